from orders.admin import package, purchase, vehicle  # noqa: F401
