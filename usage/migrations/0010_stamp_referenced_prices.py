"""Stamp every price version / rule that a usage record names as used (``first_used_at``).

Records now stamp their price when they are inserted, not when they are paid
(``orders.engine.price_claims``), so "used" means "named by a record" and an unpaid
record's price is frozen too. Rows named only by records written before that change get the time
of their first record, so the same rule holds for old data.
"""

from django.db import migrations
from django.db.models import Exists, Min, OuterRef, Subquery


def stamp(apps, schema_editor):
    UsageRecord = apps.get_model("usage", "UsageRecord")
    for model_name, ref in (("PriceVersion", "price_version"), ("PriceRule", "price_rule")):
        model = apps.get_model("plans", model_name)
        named = UsageRecord.objects.filter(**{ref: OuterRef("pk")})
        first = named.order_by().values(ref).annotate(first=Min("created_at")).values("first")
        model.objects.filter(first_used_at__isnull=True).filter(Exists(named)).update(
            first_used_at=Subquery(first)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0009_rollup_discount_units"),
        ("plans", "0004_promotions"),
    ]

    operations = [migrations.RunPython(stamp, migrations.RunPython.noop)]
