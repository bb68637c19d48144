"""Admin of this app: each order family registers its own ``ModelAdmin``s in its ``admin.py``."""

from orders.package import admin as package_admin  # noqa: F401
from orders.purchase import admin as purchase_admin  # noqa: F401
from orders.vehicle import admin as vehicle_admin  # noqa: F401
