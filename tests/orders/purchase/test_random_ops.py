"""Random sequences of purchase-order operations keep the money invariants.

Money is summed with ``config.money_sql.money_sum``: a plain ``Sum`` adds floats on SQLite and
made this test fail about 3 runs in 5 (``Decimal('9.3500') != Decimal('9.34999999999999')``,
issue 15). The examples are derandomized (the ``tally`` Hypothesis profile, tests/conftest.py) and
the sequence that failed is pinned as an ``@example``."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing.models import LedgerEntry
from config.exceptions import DomainError
from config.money_sql import money_sum
from orders.models import PurchaseOrder, PurchaseOrderStatus
from orders.purchase.renewal import renewal_run
from orders.purchase.services import (
    purchase_order_cancel,
    purchase_order_create,
    purchase_order_renew,
)
from orders.purchase.switch import purchase_order_modify
from tests.orders.purchase.helpers import account_of, fund, local, make_plan
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db
_names = itertools.count()

OPS = st.lists(
    st.tuples(
        st.sampled_from(["create", "renew", "cancel", "modify", "run", "fund"]),
        st.integers(min_value=0, max_value=3),
        st.integers(min_value=1, max_value=20),  # days forward
    ),
    min_size=3,
    max_size=12,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
@example(ops=[("create", 1, 1), ("cancel", 1, 19), ("create", 0, 1), ("create", 1, 1)])
def test_random_operations_keep_balance_equal_to_ledger(ops, db):
    make_plan("vol-50g", "30")
    make_plan("vol-100g", "50")
    user = get_user_model().objects.create_user(username=f"rnd{next(_names)}")
    account = account_of(user, "120")
    now = local(2026, 3, 1)
    for op, pick, days in ops:
        now += timedelta(days=days)
        orders = list(PurchaseOrder.objects.filter(account=account).order_by("pk"))
        target = orders[pick % len(orders)] if orders else None
        try:
            if op == "create":
                purchase_order_create(account=account, creator=user, region="cn-north-1",
                                      plan_id=("vol-50g", "vol-100g")[pick % 2], at=now)  # fmt: skip
            elif op == "fund":
                fund(account, str(days * 5))
            elif op == "run":
                renewal_run(at=now, chunk_size=2)
            elif target is not None and op == "renew":
                purchase_order_renew(order_pk=target.pk, at=now)
            elif target is not None and op == "cancel":
                purchase_order_cancel(order_pk=target.pk, refund_unused=bool(pick % 2), at=now)
            elif target is not None and op == "modify":
                other = "vol-100g" if target.plan.plan_id == "vol-50g" else "vol-50g"
                purchase_order_modify(order_pk=target.pk, plan_id=other, at=now)
        except DomainError:
            pass
        account.refresh_from_db()
        ledger = money_sum(LedgerEntry.objects.filter(account=account))
        assert account.balance == ledger >= 0
    # usage records that are paid add up to what the ledger took for orders
    paid = money_sum(UsageRecord.objects.filter(account=account, status="paid"))
    spent = -money_sum(LedgerEntry.objects.filter(account=account).exclude(kind="recharge"))
    assert paid == spent
    dupes = UsageRecord.objects.values("line_id", "period_key").annotate(n=Count("id")).filter(n__gt=1)
    assert not dupes.exists()
    for o in PurchaseOrder.objects.filter(account=account):
        if o.status == PurchaseOrderStatus.ENDED:
            assert o.end_time is not None
