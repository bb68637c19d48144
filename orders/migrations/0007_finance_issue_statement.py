"""Finance may issue a statement now (issue 19): ``billing.issue_statement`` joins the Finance group.

Here rather than in billing because the Finance group is made by ``orders.0005_finance_group`` and
billing's migrations never depend on an app above it. The permission is created explicitly (it
normally appears only in ``post_migrate``); ``config.admin_tools.sync_finance_group`` grants the same.
"""

from django.db import migrations

FINANCE_GROUP = "Finance"
PERMISSION = ("billing", "statement", "issue_statement", "Can issue a statement now (admin)")


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    app_label, model, codename, name = PERMISSION
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename=codename, defaults={"name": name}
    )
    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    group.permissions.add(permission)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    app_label, _, codename, _ = PERMISSION
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    group = Group.objects.filter(name=FINANCE_GROUP).first()
    if permission is not None and group is not None:
        group.permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_statements"),
        ("orders", "0006_vehicle_order_owner_count"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
