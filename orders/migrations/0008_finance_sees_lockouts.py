"""Finance sees the admin-login lockout records (issue 14.3): ``view`` on django-axes' models.

The permissions are created explicitly (they normally appear only in ``post_migrate``);
``config.admin_tools.sync_finance_group`` grants the same (``view_`` on every visible model).
"""

from django.db import migrations

FINANCE_GROUP = "Finance"
MODELS = {
    "accessattempt": "access attempt",
    "accesslog": "access log",
    "accessfailurelog": "access failure",
}


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    for model, label in MODELS.items():
        content_type, _ = ContentType.objects.get_or_create(app_label="axes", model=model)
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
            *Permission.objects.filter(content_type__app_label="axes", codename__in=[f"view_{m}" for m in MODELS])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("axes", "0010_accessattemptexpiration"),
        ("orders", "0007_finance_issue_statement"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
