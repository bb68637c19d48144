"""The reason-action factory: confirmation page, mandatory reason, per-order outcome, LogEntry."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from config.admin_actions import CONFIRM_FIELD, ActionOption, reason_action
from config.exceptions import InvalidTransition
from orders.admin_actions import OrderActionPermissionsMixin

pytestmark = pytest.mark.django_db
User = get_user_model()
calls: list[tuple[str, str, dict[str, Any]]] = []


def fake_cancel(order: Any, *, actor: Any, reason: str, **options: Any) -> str:
    if order.username.startswith("bad"):
        raise InvalidTransition("cannot cancel: order is ended")
    calls.append((order.username, reason, options))
    return "refunded 3.00" if options.get("refund") else ""


cancel = reason_action(
    name="cancel_orders",
    label="Cancel",
    service=fake_cancel,
    permission="cancel",
    verb="canceled",
    options=[ActionOption("refund", "Refund the unused days")],
)


class FakeOrderAdmin(OrderActionPermissionsMixin, admin.ModelAdmin):
    actions = [cancel]


@pytest.fixture
def model_admin() -> FakeOrderAdmin:
    calls.clear()
    return FakeOrderAdmin(User, admin.site)


def _request(user: Any, data: dict[str, Any] | None = None) -> Any:
    rf = RequestFactory()
    request = rf.post("/admin/auth/user/", data or {})
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_first_call_shows_the_confirmation_page(model_admin: FakeOrderAdmin, admin_user: Any) -> None:
    User.objects.create_user("good1")
    request = _request(admin_user, {"action": "cancel_orders", "_selected_action": ["1"]})
    response = cancel(model_admin, request, User.objects.filter(username="good1"))
    response.render()
    html = response.content.decode()
    assert 'name="reason"' in html and 'name="refund"' in html and CONFIRM_FIELD in html
    assert "good1" in html
    assert calls == []


def test_reason_is_mandatory(model_admin: FakeOrderAdmin, admin_user: Any) -> None:
    User.objects.create_user("good1")
    request = _request(admin_user, {CONFIRM_FIELD: "yes", "reason": "   "})
    response = cancel(model_admin, request, User.objects.filter(username="good1"))
    response.render()
    assert "This field is required" in response.content.decode()
    assert calls == [] and not LogEntry.objects.exists()


def test_confirmation_calls_the_service_per_order_and_reports(
    model_admin: FakeOrderAdmin, admin_user: Any
) -> None:
    User.objects.create_user("good1")
    User.objects.create_user("bad1")
    request = _request(admin_user, {CONFIRM_FIELD: "yes", "reason": "customer asked", "refund": "on"})
    result = cancel(model_admin, request, User.objects.filter(username__in=["good1", "bad1"]))
    assert result is None
    assert calls == [("good1", "customer asked", {"refund": True})]
    texts = [str(m) for m in get_messages(request)]
    assert "bad1: refused: cannot cancel: order is ended" in texts
    assert "good1: canceled (refunded 3.00)." in texts
    assert "Cancel: 1 of 2 done." in texts
    entry = LogEntry.objects.get()
    assert entry.action_flag == CHANGE and entry.object_repr == "good1"
    assert "customer asked" in entry.get_change_message() and "refund" in entry.get_change_message()


def test_needs_the_action_permission(model_admin: FakeOrderAdmin, make_user: Any) -> None:
    staff = make_user("clerk", staff=True)
    request = _request(staff, {CONFIRM_FIELD: "yes", "reason": "x"})
    with pytest.raises(PermissionDenied):
        cancel(model_admin, request, User.objects.all())
    assert "cancel_orders" not in model_admin.get_actions(request)
    assert calls == []
