"""Who may reach what: non-staff never get in, Finance looks but does not edit money or the catalog."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from billing.models import LedgerEntry
from billing.services import account_credit, account_get_or_create
from plans.models import Plan

pytestmark = pytest.mark.django_db


def _registered(model: Any) -> None:
    if model not in admin.site._registry:
        pytest.skip(f"{model._meta.label} has no admin yet")


@pytest.mark.parametrize(
    "url", ["/admin/", "/admin/dashboard/", "/admin/billing/ledgerentry/", "/admin/plans/plan/"]
)
def test_non_staff_user_cannot_reach_the_admin(make_user: Any, url: str) -> None:
    user = make_user("nostaff")
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")


def test_non_staff_login_is_refused(make_user: Any) -> None:
    make_user("nostaff2")
    client = Client()
    response = client.post("/admin/login/", {"username": "nostaff2", "password": "pass-nostaff2"})
    assert response.status_code == 200  # the form again, with an error
    assert "staff account" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_finance_group_permissions(finance_user: Any) -> None:
    assert finance_user.has_perm("billing.view_ledgerentry")
    assert finance_user.has_perm("billing.view_account")
    assert finance_user.has_perm("billing.adjust_balance")
    assert finance_user.has_perm("plans.view_plan")
    assert finance_user.has_perm("usage.view_usagerecord")
    for perm in (
        "plans.add_plan",
        "plans.change_plan",
        "plans.delete_plan",
        "billing.change_ledgerentry",
        "billing.add_ledgerentry",
        "billing.delete_ledgerentry",
        "billing.change_account",
    ):
        assert not finance_user.has_perm(perm), perm
    assert not finance_user.has_perm("django_celery_beat.view_periodictask")


def test_finance_cannot_change_a_ledger_entry(finance_user: Any, finance_client: Client) -> None:
    _registered(LedgerEntry)
    account = account_get_or_create(namespace="acme")
    entry = account_credit(account_id=account.pk, amount=Decimal("10"), idempotency_key="k1").entry
    url = reverse("admin:billing_ledgerentry_change", args=[entry.pk])
    page = finance_client.get(url)
    assert page.status_code == 200  # may look
    model_admin = admin.site._registry[LedgerEntry]
    request = page.wsgi_request
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    response = finance_client.post(url, {"amount": "999", "memo": "tampered"})
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.amount == Decimal("10.0000")
    assert finance_client.get(reverse("admin:billing_ledgerentry_add")).status_code == 403


def test_ledger_entries_read_only_for_superusers_too(admin_client: Client) -> None:
    _registered(LedgerEntry)
    account = account_get_or_create(namespace="acme2")
    entry = account_credit(account_id=account.pk, amount=Decimal("3"), idempotency_key="k2").entry
    request = admin_client.get(reverse("admin:billing_ledgerentry_changelist")).wsgi_request
    model_admin = admin.site._registry[LedgerEntry]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)


def test_finance_cannot_change_a_plan(finance_client: Client) -> None:
    _registered(Plan)
    plan = Plan.objects.create(plan_id="p1", name="P1", plan_type="volume")
    url = reverse("admin:plans_plan_change", args=[plan.pk])
    assert finance_client.get(url).status_code == 200
    response = finance_client.post(url, {"plan_id": "p1", "name": "HACKED", "plan_type": "volume"})
    assert response.status_code == 403
    plan.refresh_from_db()
    assert plan.name == "P1"
    assert finance_client.get(reverse("admin:plans_plan_add")).status_code == 403


def test_beat_schedules_are_superuser_only(
    finance_client: Client, admin_client: Client, make_user: Any
) -> None:
    model = apps.get_model("django_celery_beat", "PeriodicTask")
    url = reverse("admin:django_celery_beat_periodictask_changelist")
    assert admin_client.get(url).status_code == 200
    assert finance_client.get(url).status_code == 403
    # even a staff user holding every beat permission explicitly
    from django.contrib.auth.models import Permission

    staff = make_user("beatstaff", staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="django_celery_beat"))
    client = Client()
    client.force_login(staff)
    assert client.get(url).status_code == 403
    index = client.get("/admin/")
    assert b"django_celery_beat" not in index.content
    assert model in admin.site._registry


def test_the_finance_migration_builds_the_group(db: Any) -> None:
    import importlib

    from django.apps import apps as global_apps
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    migration = importlib.import_module("orders.migrations.0005_finance_group")
    # Run it on the historical apps, as ``migrate`` does: the function flips ``models_module`` on every
    # app config it is given, and on the global registry that silenced ``post_migrate`` for the rest
    # of the session (no content types or permissions after a flush: the e2e Finance user got 403s).
    state_apps = MigrationLoader(connection).project_state(("orders", "0005_finance_group")).apps
    models_modules = {c.label: c.models_module for c in global_apps.get_app_configs()}
    Group.objects.filter(name="Finance").delete()
    migration.create_finance_group(state_apps, None)
    migration.create_finance_group(state_apps, None)  # idempotent
    assert {c.label: c.models_module for c in global_apps.get_app_configs()} == models_modules
    group = Group.objects.get(name="Finance")
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {
        "view_ledgerentry",
        "view_plan",
        "adjust_balance",
        "cancel_purchaseorder",
        "underwrite_vehicleorder",
    } <= codenames
    assert not {c for c in codenames if c.startswith(("add_", "change_", "delete_"))}
    assert "view_periodictask" not in codenames


def _argument_free_admin_urls() -> list[str]:
    """Every page of every registered model admin that takes no object id (changelists, add forms,
    exports, reports, the dashboard's), as ``/admin/<app>/<model>/<page>``."""
    urls = []
    for model, model_admin in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for pattern in model_admin.get_urls():
            route = str(pattern.pattern)
            if "<" not in route and "(?P" not in route:
                urls.append(base + route.lstrip("^").rstrip("$"))
    return sorted(set(urls))


def test_staff_status_alone_opens_no_model_page(make_user: Any) -> None:
    """A staff user without permissions signs in and sees nothing: every model page, custom ones
    (the consumption report, CSV exports) included, is 403 (found: the report showed every
    tenant's money to such a user)."""
    staff = make_user("barestaff", staff=True)
    client = Client()
    client.force_login(staff)
    opened = {}
    for url in _argument_free_admin_urls():
        status = client.get(url).status_code
        if status != 403:
            opened[url] = status
    assert opened == {}
    assert "/admin/usage/usagerecord/report/" in _argument_free_admin_urls()
