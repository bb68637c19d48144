"""Client-chosen instance ids are unique per account, not globally (issue 13): ``ProductInstance``
gets its order's account (filled from the order), the global unique index on ``prod_inst_id_ext``
goes, ``(account, prod_inst_id_ext)`` is unique instead. Existing ids were globally unique, so they
are unique per account too; the backfill is one UPDATE per account."""

import django.db.models.deletion
from django.db import migrations, models


def fill_account(apps, schema_editor):
    ProductInstance = apps.get_model("orders", "ProductInstance")
    PackageOrder = apps.get_model("orders", "PackageOrder")
    for account_id in PackageOrder.objects.values_list("account_id", flat=True).distinct():
        ProductInstance.objects.filter(order__account_id=account_id).update(account_id=account_id)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_account_any_account_permissions"),
        ("orders", "0009_finance_view_any_account"),
    ]

    operations = [
        migrations.AddField(
            model_name="productinstance",
            name="account",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.account",
            ),
        ),
        migrations.RunPython(fill_account, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="productinstance",
            name="account",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="billing.account"
            ),
        ),
        migrations.AlterField(
            model_name="productinstance",
            name="prod_inst_id_ext",
            field=models.CharField(max_length=100),
        ),
        migrations.AddConstraint(
            model_name="productinstance",
            constraint=models.UniqueConstraint(
                fields=("account", "prod_inst_id_ext"), name="uniq_instance_ext_per_account"
            ),
        ),
    ]
