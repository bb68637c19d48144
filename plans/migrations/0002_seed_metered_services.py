from decimal import Decimal

from django.db import migrations

SEED_SERVICES = [
    ("passport", Decimal("0.0100"), 10000),
    ("payment", Decimal("0.1000"), 1000),
    ("asset", Decimal("0.0500"), 1000),
]


def create_services(apps, schema_editor):
    MeteredService = apps.get_model("plans", "MeteredService")
    for service, unit_price, quota in SEED_SERVICES:
        MeteredService.objects.get_or_create(
            service=service, defaults={"unit_price": unit_price, "monthly_free_quota": quota}
        )


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial")]
    operations = [migrations.RunPython(create_services, migrations.RunPython.noop)]
