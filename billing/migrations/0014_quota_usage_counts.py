"""The counts behind the records list's ``total`` for quota usages (B7): a usage that paid money is
counted on its account row by its ledger entry's UPDATE, one that paid nothing on its quota row by
the usage's own UPDATE; existing rows are counted once here."""

from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce


def count_existing(apps, schema_editor):
    Account = apps.get_model("billing", "Account")
    MonthlyQuota = apps.get_model("billing", "MonthlyQuota")
    QuotaUsage = apps.get_model("billing", "QuotaUsage")
    paid = (
        QuotaUsage.objects.filter(account_id=OuterRef("pk"), ledger_entry__isnull=False)
        .order_by()
        .values("account_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    Account.objects.update(paid_quota_usage_count=Coalesce(Subquery(paid), 0))
    free = (
        QuotaUsage.objects.filter(quota_id=OuterRef("pk"), ledger_entry__isnull=True)
        .order_by()
        .values("quota_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    MonthlyQuota.objects.update(free_usage_count=Coalesce(Subquery(free), 0))


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0013_ledger_entry_count_db_default"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="paid_quota_usage_count",
            field=models.BigIntegerField(
                db_default=0,
                default=0,
                help_text="how many of the account's quota usages paid money (have a ledger entry): "
                "counted by that entry's own UPDATE of this row; with the quota rows' free_usage_count, "
                "the records list's total (billing.selectors.account_record_counts)",
            ),
        ),
        migrations.AddField(
            model_name="monthlyquota",
            name="free_usage_count",
            field=models.BigIntegerField(
                db_default=0,
                default=0,
                help_text="how many usages of this row paid no money (no ledger entry): counted by the "
                "usage's own UPDATE of this row (billing.quota_rows, billing.quota_batch)",
            ),
        ),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
    ]
