"""Stamp every price rule that a subscription line names as used (``first_used_at``).

A line keeps its rule's price for its later records (a postpaid component has none until it is
billed), so since 2026-12-04 a line claims its rule when it is written
(``orders.engine.price_claims``): the price cannot change under an order that will bill it. Rules
named only by lines written before get the time of their first line.
"""

from django.db import migrations
from django.db.models import Exists, Min, OuterRef, Subquery


def stamp(apps, schema_editor):
    PriceRule = apps.get_model("plans", "PriceRule")
    SubscriptionLine = apps.get_model("orders", "SubscriptionLine")
    named = SubscriptionLine.objects.filter(price_rule_id=OuterRef("pk"))
    first = named.order_by().values("price_rule_id").annotate(first=Min("created_at")).values("first")
    PriceRule.objects.filter(first_used_at__isnull=True).filter(Exists(named)).update(first_used_at=Subquery(first))


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0013_package_order_promotion"),
        ("plans", "0004_promotions"),
    ]

    operations = [migrations.RunPython(stamp, migrations.RunPython.noop)]
