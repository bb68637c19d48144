"""The apps' admins carry the issue-8 pieces: reason actions, CSV export, event history, catalog lock."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin

import config.urls  # noqa: F401
from config.admin_tools import CsvExportMixin, SuperuserChangesOnlyMixin
from orders.admin_actions import OrderActionPermissionsMixin

pytestmark = pytest.mark.django_db


def _admin(label: str) -> Any:
    from django.apps import apps

    return admin.site._registry[apps.get_model(label)]


@pytest.mark.parametrize(
    "label",
    [
        "orders.PurchaseOrder",
        "orders.PackageOrder",
        "orders.VehicleOrder",
        "usage.UsageRecord",
        "billing.LedgerEntry",
    ],
)
def test_csv_export_on_orders_usage_and_ledger(label: str, admin_client: Any) -> None:
    model_admin = _admin(label)
    assert isinstance(model_admin, CsvExportMixin)
    opts = model_admin.model._meta
    response = admin_client.get(f"/admin/{opts.app_label}/{opts.model_name}/export/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    header = b"".join(response.streaming_content).decode().splitlines()[0]
    assert header


@pytest.mark.parametrize(
    ("label", "actions"),
    [
        ("orders.PurchaseOrder", {"cancel_purchase_orders", "renew_purchase_orders"}),
        ("orders.PackageOrder", {"cancel_package_orders", "renew_package_orders"}),
        ("orders.VehicleOrder", {"cancel_vehicle_orders", "underwrite_vehicle_orders"}),
    ],
)
def test_order_admins_offer_the_reason_actions(
    label: str, actions: set[str], rf: Any, admin_user: Any, finance_user: Any
) -> None:
    model_admin = _admin(label)
    assert isinstance(model_admin, OrderActionPermissionsMixin)
    request = rf.get("/")
    request.user = admin_user
    assert actions <= set(model_admin.get_actions(request))
    request.user = finance_user
    assert actions <= set(model_admin.get_actions(request))


@pytest.mark.parametrize(
    "label",
    [
        "plans.Plan",
        "plans.PriceVersion",
        "plans.Product",
        "plans.PriceRule",
        "plans.PlanItem",
        "plans.MeteredService",
    ],
)
def test_catalog_changes_are_superuser_only(label: str, rf: Any, make_user: Any) -> None:
    from django.contrib.auth.models import Permission

    model_admin = _admin(label)
    assert isinstance(model_admin, SuperuserChangesOnlyMixin)
    staff = make_user("catalogstaff", staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="plans"))
    request = rf.get("/")
    request.user = type(staff).objects.get(pk=staff.pk)
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_add_permission(request)
