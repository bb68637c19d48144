from django.apps import AppConfig


class OpsConfig(AppConfig):
    """What operators watch: the worker heartbeat and how long each periodic job took
    (docs/deploy.md, "Health" and "Metrics")."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from ops.jobruns import connect_job_timing

        connect_job_timing()
