"""The ready-made order actions against the real services (purchase, package, vehicle).

Uses local ModelAdmins carrying the actions, so these tests hold whatever the apps' admins look like;
tests/admin/test_admin_wiring.py checks the registered admins offer them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from billing.models import LedgerEntry, LedgerKind
from config.admin_actions import CONFIRM_FIELD
from config.display import money_text
from orders.admin_actions import OrderActionPermissionsMixin
from orders.models import PurchaseOrder, PurchaseOrderStatus, VehicleOrder
from orders.purchase.admin_actions import purchase_cancel, purchase_renew
from orders.purchase.services import purchase_order_create
from orders.vehicle.admin_actions import vehicle_cancel, vehicle_underwrite
from tests.orders.purchase.helpers import account_of, assert_ledger, make_plan

pytestmark = pytest.mark.django_db


class PurchaseAdmin(OrderActionPermissionsMixin, admin.ModelAdmin):
    actions = [purchase_cancel, purchase_renew]


class VehicleAdmin(OrderActionPermissionsMixin, admin.ModelAdmin):
    actions = [vehicle_cancel, vehicle_underwrite]


def _post(user: Any, **data: Any) -> Any:
    request = RequestFactory().post("/admin/", {CONFIRM_FIELD: "yes", **data})
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def _purchase(user: Any, name: str = "web-1") -> PurchaseOrder:
    account = account_of(user, "100")
    make_plan("vol-50g", "30")
    result = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id="vol-50g", resource_name=name
    )
    assert result.order is not None
    return result.order


def test_purchase_cancel_with_refund_writes_event_ledger_and_logentry(user: Any, finance_user: Any) -> None:
    order = _purchase(user)
    model_admin = PurchaseAdmin(PurchaseOrder, admin.site)
    request = _post(finance_user, reason="customer left", refund_unused="on")
    assert purchase_cancel(model_admin, request, PurchaseOrder.objects.filter(pk=order.pk)) is None

    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.ENDED
    event = order.events.order_by("id").last()
    assert event.to_status == PurchaseOrderStatus.ENDED and event.actor_id == finance_user.pk
    assert event.data["note"] == "customer left" and Decimal(event.data["refund"]) > 0
    refund = LedgerEntry.objects.get(account=order.account, kind=LedgerKind.REFUND)
    assert refund.amount == Decimal(event.data["refund"]) and refund.actor_id == finance_user.pk
    assert_ledger(order.account)
    log = LogEntry.objects.get(object_id=str(order.pk))
    assert log.user_id == finance_user.pk and "customer left" in log.get_change_message()
    texts = [str(m) for m in get_messages(request)]
    assert texts == [f"{order.order_id}: canceled (refunded {money_text(Decimal(event.data['refund']))})."]

    # a second cancel is refused and changes nothing
    again = _post(finance_user, reason="twice")
    purchase_cancel(model_admin, again, PurchaseOrder.objects.filter(pk=order.pk))
    assert [str(m) for m in get_messages(again)][0].startswith(f"{order.order_id}: refused: ")
    assert LedgerEntry.objects.filter(account=order.account, kind=LedgerKind.REFUND).count() == 1
    assert LogEntry.objects.count() == 1


def test_purchase_cancel_without_refund_and_renew(user: Any, finance_user: Any) -> None:
    order = _purchase(user)
    other = PurchaseOrder.objects.get(pk=_purchase(user, "web-2").pk)
    model_admin = PurchaseAdmin(PurchaseOrder, admin.site)
    before = order.account.ledger_entries.count()
    renew = _post(finance_user, reason="pay ahead")
    purchase_renew(model_admin, renew, PurchaseOrder.objects.filter(pk=other.pk))
    charged = order.account.ledger_entries.filter(kind=LedgerKind.CHARGE).order_by("-id").first()
    assert charged.amount == Decimal("-30.0000")
    assert order.account.ledger_entries.count() == before + 1
    assert "renewed (charged CNY 30.00" in str(list(get_messages(renew))[0])
    assert other.events.order_by("-id").first().data["note"] == "pay ahead"

    cancel = _post(finance_user, reason="no refund wanted")
    purchase_cancel(model_admin, cancel, PurchaseOrder.objects.filter(pk=order.pk))
    assert not LedgerEntry.objects.filter(account=order.account, kind=LedgerKind.REFUND).exists()
    assert_ledger(order.account)


def test_finance_without_action_permission_is_refused(user: Any, make_user: Any) -> None:
    from django.core.exceptions import PermissionDenied

    order = _purchase(user)
    clerk = make_user("clerk", staff=True)
    with pytest.raises(PermissionDenied):
        purchase_cancel(
            PurchaseAdmin(PurchaseOrder, admin.site), _post(clerk, reason="x"), PurchaseOrder.objects.all()
        )
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.CONSUMING


def test_vehicle_underwrite_and_cancel(user: Any, finance_user: Any) -> None:
    from orders.models import VehicleOrderState
    from tests.orders.vehicle.factories import fund, make_plan_order

    fund(user, "5000")
    order = make_plan_order(user)
    from orders.vehicle.services import vehicle_order_pay

    vehicle_order_pay(order_id=order.order_id, actor=user)
    model_admin = VehicleAdmin(VehicleOrder, admin.site)
    underwrite = _post(finance_user, reason="documents checked")
    vehicle_underwrite(model_admin, underwrite, VehicleOrder.objects.filter(pk=order.pk))
    order.refresh_from_db()
    assert order.state_code == VehicleOrderState.UNDERWRITTEN
    underwritten = order.events.order_by("occurred_at", "id").last()
    assert underwritten.data.get("reason") == "documents checked"
    cancel = _post(finance_user, reason="customer withdrew")
    vehicle_cancel(model_admin, cancel, VehicleOrder.objects.filter(pk=order.pk))
    order.refresh_from_db()
    assert order.state_code == VehicleOrderState.CANCELED_AFTER_UNDERWRITING
    last = order.events.order_by("occurred_at", "id").last()
    assert last.actor_id == finance_user.pk and last.data.get("reason") == "customer withdrew"
    assert LogEntry.objects.filter(object_id=str(order.pk)).count() == 2


class PackageAdmin(OrderActionPermissionsMixin, admin.ModelAdmin):
    actions: list[Any] = []


def test_package_cancel_and_renew(finance_user: Any) -> None:
    from orders.models import InstanceStatus, PackageOrder, PackageOrderStatus
    from orders.package.admin_actions import package_cancel, package_renew
    from orders.package.services import package_order_charge
    from tests.orders.package.factories import assert_balanced, create_order, funded_account, make_catalog

    make_catalog()
    account = funded_account("pkg", "1000")
    unpaid = create_order(account, ext="i-unpaid").order
    paid = create_order(account, ext="i-paid").order
    package_order_charge(order_pk=paid.pk)
    model_admin = PackageAdmin(PackageOrder, admin.site)

    cancel = _post(finance_user, reason="duplicate order")
    package_cancel(model_admin, cancel, PackageOrder.objects.filter(pk__in=[unpaid.pk, paid.pk]))
    texts = [str(m) for m in get_messages(cancel)]
    assert f"{unpaid.order_id}: canceled (status canceled)." in texts
    assert any(t.startswith(f"{paid.order_id}: refused: ") for t in texts)
    unpaid.refresh_from_db()
    assert unpaid.status == PackageOrderStatus.CANCELED
    assert unpaid.events.get(reason="canceled").data == {"note": "duplicate order"}

    before = account.ledger_entries.count()
    renew = _post(finance_user, reason="customer paid by phone")
    package_renew(model_admin, renew, PackageOrder.objects.filter(pk=paid.pk))
    texts = [str(m) for m in get_messages(renew)]
    assert texts[0].startswith(f"{paid.order_id}: renewed (i-paid charged "), texts
    assert account.ledger_entries.count() == before + 1
    assert paid.instances.get().status == InstanceStatus.RUNNING
    assert paid.events.get(reason="renewed").data["note"] == "customer paid by phone"
    assert_balanced(account)
    assert LogEntry.objects.filter(object_id=str(paid.pk)).count() == 1
