"""Finance sees promotions and their redemptions (issue 20.1): ``view`` on the two new models.

The permissions are created explicitly (they normally appear only in ``post_migrate``);
``config.admin_tools.sync_finance_group`` grants the same (``view_`` on every visible model).
Promotions are catalog: adding or changing one stays with superusers (``SuperuserChangesOnlyMixin``).
"""

from django.db import migrations

FINANCE_GROUP = "Finance"
MODELS = {("billing", "redemption"): "redemption", ("plans", "promotion"): "promotion"}


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    for (app_label, model), label in MODELS.items():
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=f"view_{model}", defaults={"name": f"Can view {label}"}
        )
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=FINANCE_GROUP).first()
    if group is None:
        return
    for app_label, model in MODELS:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label=app_label, codename=f"view_{model}")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("billing", "0009_promotions"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
