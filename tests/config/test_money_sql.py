"""``config.money_sql``: money sums are exact on SQLite (which adds REALs) and on MariaDB."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.db.models import Q, Sum
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing.models import Account, LedgerEntry
from config.money_sql import ExactMoneySum, money_sum

pytestmark = pytest.mark.django_db
_keys = itertools.count()

AMOUNTS = st.lists(
    st.decimals(min_value=Decimal("-99999999.9999"), max_value=Decimal("99999999.9999"), places=4),
    min_size=1,
    max_size=25,
)


def _entries(account: Account, amounts: list[Decimal], kind: str = "charge") -> None:
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                account=account, amount=a, balance_after=0, kind=kind, idempotency_key=f"k{next(_keys)}"
            )
            for a in amounts
        ]
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=AMOUNTS)
@example(amounts=[Decimal("100"), Decimal("-90.65")])  # 9.34999999999999 as REALs
def test_exact_sum_equals_the_decimal_sum(amounts: list[Decimal], db: None) -> None:
    account = Account.objects.create(namespace=f"ms{next(_keys)}", currency="CNY")
    _entries(account, amounts)
    qs = LedgerEntry.objects.filter(account=account)
    total = qs.aggregate(t=ExactMoneySum("amount"))["t"]
    assert total == sum(amounts, Decimal(0))
    assert str(total) == str(sum(amounts, Decimal(0)).quantize(Decimal("0.0001")))  # 4 places
    assert money_sum(qs) == total


def test_the_float_sum_it_replaces_is_wrong_on_sqlite(db: None) -> None:
    """Why the helper exists: on SQLite the plain Sum of 100 and -90.65 is 9.34999999999999."""
    from django.db import connection

    account = Account.objects.create(namespace="floaty", currency="CNY")
    _entries(account, [Decimal("100"), Decimal("-90.65")])
    qs = LedgerEntry.objects.filter(account=account)
    plain = qs.aggregate(t=Sum("amount"))["t"]
    assert money_sum(qs) == Decimal("9.3500")
    if connection.vendor == "sqlite":
        assert plain == Decimal("9.34999999999999")
    else:
        assert plain == Decimal("9.35")


def test_filter_group_by_order_and_empty(db: None) -> None:
    a = Account.objects.create(namespace="ga", currency="CNY")
    b = Account.objects.create(namespace="gb", currency="CNY")
    _entries(a, [Decimal("0.1"), Decimal("0.2"), Decimal("-0.0001")])
    _entries(a, [Decimal("5.55")], kind="refund")
    _entries(b, [Decimal("0.7")] * 3)
    rows = list(
        LedgerEntry.objects.values("account__namespace")
        .annotate(t=ExactMoneySum("amount"), c=ExactMoneySum("amount", filter=Q(kind="charge")))
        .order_by("-t")
    )
    assert rows == [
        {"account__namespace": "ga", "t": Decimal("5.8499"), "c": Decimal("0.2999")},
        {"account__namespace": "gb", "t": Decimal("2.1000"), "c": Decimal("2.1000")},
    ]
    none = LedgerEntry.objects.filter(kind="adjustment")
    assert none.aggregate(t=ExactMoneySum("amount"))["t"] is None
    assert money_sum(none) == Decimal("0.0000")
    with pytest.raises(TypeError):
        ExactMoneySum("amount", default=0)
