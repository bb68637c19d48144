from django.apps import AppConfig


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"

    def ready(self) -> None:
        from billing.alerts.hooks import register_burn_rate
        from billing.statements.hooks import register_line_details
        from orders.purchase.speed import burn_per_day
        from orders.statement_lines import statement_line_details

        register_line_details(statement_line_details)
        register_burn_rate(burn_per_day)
