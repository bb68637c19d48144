"""The "Gateway" group: the internal billing API (check/deduct quota, the batch deduction) for the
service account of an API gateway, so ``create_api_user gw --group Gateway`` prints a token that
can meter calls (docs/billing.md "The gateway's login"). Nothing else is in the group.

The permission is created explicitly (it normally appears only in ``post_migrate``).
"""

from django.db import migrations

GATEWAY_GROUP = "Gateway"


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    group, _ = Group.objects.get_or_create(name=GATEWAY_GROUP)
    content_type, _ = ContentType.objects.get_or_create(app_label="billing", model="account")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename="use_internal_api",
        defaults={"name": "Can call the internal billing API"},
    )
    group.permissions.add(permission)


def revoke(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GATEWAY_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("billing", "0010_finance_sees_promotions"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
