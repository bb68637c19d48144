"""Finance reads any namespace through the API (issue 13): ``billing.view_any_account`` joins the
Finance group, so the ``finance`` login of ``make run`` (load_demo) has it on a fresh database.

``billing.act_for_any_account`` is deliberately not granted: finance acts on orders in the admin
(the order-action permissions), never as another tenant through the API. Vehicle underwriting is
``orders.underwrite_vehicleorder``, granted by ``0005_finance_group``. The permission is created
explicitly (it normally appears only in ``post_migrate``); ``config.admin_tools.sync_finance_group``
grants the same.
"""

from django.db import migrations

FINANCE_GROUP = "Finance"
PERMISSION = (
    "billing",
    "account",
    "view_any_account",
    "Can read any namespace's wallet, orders and statements (API)",
)


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
        ("billing", "0006_account_any_account_permissions"),
        ("orders", "0008_finance_sees_lockouts"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
