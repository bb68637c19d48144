"""The Finance group (issue 8): view everything, run the order actions, adjust balances; no catalog
changes. Permissions are created first (they normally appear only after ``migrate`` finishes, in
``post_migrate``), so the group can be filled in the same run. The lists are frozen here on purpose:
``config.admin_tools.sync_finance_group`` is the same rule for code (tests re-create the group after a
flush) and docs/admin.md explains it."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

FINANCE_GROUP = "Finance"
ORDER_ACTION_PERMISSIONS = {
    "cancel_purchaseorder": ("orders", "purchaseorder", "Can cancel purchase orders (admin action)"),
    "renew_purchaseorder": ("orders", "purchaseorder", "Can renew purchase orders (admin action)"),
    "cancel_packageorder": ("orders", "packageorder", "Can cancel package orders (admin action)"),
    "renew_packageorder": ("orders", "packageorder", "Can renew package orders (admin action)"),
    "cancel_vehicleorder": ("orders", "vehicleorder", "Can cancel vehicle orders (admin action)"),
    "renew_vehicleorder": ("orders", "vehicleorder", "Can renew vehicle orders (admin action)"),
    "underwrite_vehicleorder": ("orders", "vehicleorder", "Can underwrite vehicle orders (admin action)"),
}
EXTRA_PERMISSIONS = (("billing", "adjust_balance"),)
HIDDEN_APPS = ("django_celery_beat", "sessions", "authtoken")


def create_finance_group(apps, schema_editor):
    for app_config in apps.get_app_configs():
        # create_permissions skips app configs without a models module, which historical apps lack;
        # restore the value after, so the function is harmless on any registry (a live one too).
        before = getattr(app_config, "models_module", None)
        app_config.models_module = True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = before

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for codename, (app_label, model, name) in ORDER_ACTION_PERMISSIONS.items():
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        Permission.objects.get_or_create(content_type=content_type, codename=codename, defaults={"name": name})

    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    perms = set(
        Permission.objects.filter(codename__startswith="view_")
        .exclude(content_type__app_label__in=HIDDEN_APPS)
        .values_list("pk", flat=True)
    )
    perms |= set(Permission.objects.filter(codename__in=list(ORDER_ACTION_PERMISSIONS)).values_list("pk", flat=True))
    for app_label, codename in EXTRA_PERMISSIONS:
        perms |= set(
            Permission.objects.filter(content_type__app_label=app_label, codename=codename).values_list("pk", flat=True)
        )
    group.permissions.set(sorted(perms))


def remove_finance_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=FINANCE_GROUP).delete()
    apps.get_model("auth", "Permission").objects.filter(codename__in=list(ORDER_ACTION_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("plans", "0003_price_first_used"),
        ("billing", "0002_quota_recharge"),
        ("usage", "0001_initial"),
        ("orders", "0004_merge_0003_package_orders_0003_vehicle_orders"),
    ]

    operations = [migrations.RunPython(create_finance_group, remove_finance_group)]
