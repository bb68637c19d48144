"""Finance sees the alert thresholds and states (issue 20.2): ``view`` on the two new models.

The permissions are created explicitly (they normally appear only in ``post_migrate``);
``config.admin_tools.sync_finance_group`` grants the same (``view_`` on every visible model).
Setting a threshold (``change_alertthreshold``) stays with whoever is given it.
"""

from django.db import migrations

FINANCE_GROUP = "Finance"
MODELS = {"alertthreshold": "alert threshold", "alertstate": "alert state"}


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    for model, label in MODELS.items():
        content_type, _ = ContentType.objects.get_or_create(app_label="billing", model=model)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=f"view_{model}", defaults={"name": f"Can view {label}"}
        )
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=FINANCE_GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="billing", codename__in=[f"view_{m}" for m in MODELS]
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("billing", "0007_balance_alerts"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
