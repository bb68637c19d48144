"""The registered burn provider is ``/usageapi/v1/speed``'s rate, per account in one pass, and the
evaluator uses it: real purchase orders, no fake burn."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.alerts import hooks
from billing.alerts.models import AlertState
from billing.alerts.services import balance_alerts_evaluate
from billing.services import account_get_or_create
from orders.purchase.services import purchase_order_create
from orders.purchase.speed import account_speed
from tests.orders.purchase.helpers import fund, local, make_plan

pytestmark = pytest.mark.django_db


def test_orders_registers_the_speed_rate_per_account(make_user, settings, django_capture_on_commit_callbacks):
    settings.RUNWAY_ALERT_DAYS = 7
    settings.BALANCE_ALERT_BELOW = Decimal("0")
    make_plan("vol-50g", "31")
    make_plan("vol-100g", "62")
    start = local(2026, 3, 1)
    accounts = {}
    for name, plans, money in (
        ("ann", ["vol-50g"], "40"),
        ("ben", ["vol-50g", "vol-100g"], "200"),
        ("cy", [], "5"),
    ):
        user = make_user(name)
        account = account_get_or_create(namespace=name, member=user)
        fund(account, money)
        for plan in plans:
            purchase_order_create(account=account, creator=user, region="cn-north-1", plan_id=plan, at=start)
        accounts[name] = account
    at = local(2026, 3, 15)
    ids = [a.pk for a in accounts.values()]
    with CaptureQueriesContext(connection) as ctx:
        burn = hooks.burn_per_day(ids, at)
    assert len(ctx.captured_queries) <= 4  # records, lines, ended orders, stopped instances
    for account in accounts.values():
        assert (
            burn.get(account.pk, Decimal("0.0000")) == account_speed(at=at, account_ids=[account.pk]).per_day
        )
    assert burn[accounts["ann"].pk] == Decimal("1.0000")  # 31 over March's 744 hours, x 24
    assert accounts["cy"].pk not in burn
    with django_capture_on_commit_callbacks(execute=True):
        balance_alerts_evaluate(at=at)
    # ann: 9 left at 1 a day (9 days), ben: 107 left at 3 a day (35 days): neither under 7 days
    assert not AlertState.objects.exists()
    settings.RUNWAY_ALERT_DAYS = 10
    with django_capture_on_commit_callbacks(execute=True):
        balance_alerts_evaluate(at=at)
    assert list(AlertState.objects.values_list("account__namespace", "kind", "runway_days")) == [
        ("ann", "runway_low", Decimal("9.00"))
    ]
