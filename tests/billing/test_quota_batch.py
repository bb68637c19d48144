"""POST /internal/v1/billing/deduct-quota/batch (billing/quota_batch.py): per-item results, the
single path's rules and idempotency, set-based writes that keep balance == ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billing.models import LedgerEntry, MonthlyQuota, QuotaUsage
from billing.quota import metered_service_cache_clear, quota_deduct
from billing.quota_batch import MAX_ITEMS, DeductItem, quota_deduct_batch
from config.api.errors import ErrorCode
from tests.billing.factories import funded_account, ledger_sum

pytestmark = pytest.mark.django_db
URL = "/internal/v1/billing/deduct-quota/batch"


@pytest.fixture(autouse=True)
def _fresh_service_cache() -> Any:
    metered_service_cache_clear()
    yield
    metered_service_cache_clear()


def _item(rid: str, count: int, namespace: str = "acme", service: str = "payment") -> dict[str, Any]:
    return {"namespace": namespace, "service": service, "count": count, "request_id": rid}


def test_items_follow_the_single_rules_in_order(internal_api: Any) -> None:
    acc = funded_account("acme", "1")  # payment: 1,000 free calls a month, then 0.10 a call
    items = [
        _item("a", 998),  # free
        _item("b", 5),  # 2 free + 3 paid: 0.30
        _item("c", 8),  # 0.80 > 0.70 left: refused, nothing used
        _item("d", 7),  # 0.70: the balance to zero
        _item("a", 998),  # the same request id again: the first answer
        _item("e", 1, service="nope"),
        _item("f", 1, namespace="nobody"),
    ]
    r = internal_api.post(URL, {"items": items}, format="json")
    assert r.status_code == 200, r.json()
    data = r.json()["data"]
    assert (data["deducted"], data["refused"]) == (4, 3)
    res = data["results"]
    assert [x["request_id"] for x in res] == ["a", "b", "c", "d", "a", "e", "f"]
    assert [x["ok"] for x in res] == [True, True, False, True, True, False, False]
    assert (res[1]["result"]["free_count"], res[1]["result"]["paid_count"], res[1]["result"]["amount"]) == (
        2, 3, "0.3000"
    )  # fmt: skip
    assert res[1]["result"]["balance"] == "0.7000" and res[3]["result"]["balance"] == "0.0000"
    assert res[2]["error"]["code"] == ErrorCode.BILLING_INSUFFICIENT_BALANCE and res[2]["result"] is None
    assert res[4]["result"]["replayed"] is True and res[0]["result"]["replayed"] is False
    assert {**res[4]["result"], "replayed": False} == res[0]["result"]
    assert res[5]["error"]["code"] == ErrorCode.BILLING_UNKNOWN_SERVICE
    assert res[6]["error"]["code"] == ErrorCode.BILLING_ACCOUNT_NOT_FOUND
    acc.refresh_from_db()
    assert acc.balance == Decimal("0") == ledger_sum(acc)
    assert MonthlyQuota.objects.get(account=acc).used == 1000
    assert sorted(QuotaUsage.objects.filter(account=acc).values_list("request_id", flat=True)) == [
        "a",
        "b",
        "d",
    ]
    charges = LedgerEntry.objects.filter(account=acc, kind="charge").order_by("id")
    assert [(e.subject_id, e.amount, e.balance_after) for e in charges] == [
        ("b", Decimal("-0.3"), Decimal("0.7")),
        ("d", Decimal("-0.7"), Decimal("0")),
    ]
    usage_b = QuotaUsage.objects.get(request_id="b")
    assert usage_b.ledger_entry_id == charges[0].pk and usage_b.balance_after == Decimal("0.7")


def test_a_batch_sent_twice_moves_money_once_and_replays_the_single_path() -> None:
    acc = funded_account("acme", "10")
    quota_deduct(namespace="acme", service="payment", count=1000, request_id="single")
    items = [DeductItem("acme", "payment", 4, f"r{i}") for i in range(3)] + [
        DeductItem("acme", "payment", 1000, "single")
    ]
    first = quota_deduct_batch(items=items)
    again = quota_deduct_batch(items=items)
    assert [r.deduction.replayed for r in first] == [False, False, False, True]  # type: ignore[union-attr]
    assert all(r.deduction.replayed for r in again)  # type: ignore[union-attr]
    assert [r.deduction.usage.pk for r in again] == [r.deduction.usage.pk for r in first]  # type: ignore[union-attr]
    acc.refresh_from_db()
    assert acc.balance == Decimal("8.8") == ledger_sum(acc)  # 3 x 4 paid calls x 0.10
    assert QuotaUsage.objects.filter(account=acc).count() == 4


def test_groups_are_independent_accounts(internal_api: Any) -> None:
    poor, rich = funded_account("poor", "0"), funded_account("rich", "5")
    items = [_item("p1", 1001, "poor"), _item("r1", 1010, "rich"), _item("p2", 10, "poor")]
    res = internal_api.post(URL, {"items": items}, format="json").json()["data"]["results"]
    assert [x["ok"] for x in res] == [False, True, True]  # p1 needs 0.10; p2 fits the free quota
    for acc, balance in ((poor, Decimal("0")), (rich, Decimal("4"))):
        acc.refresh_from_db()
        assert acc.balance == balance == ledger_sum(acc)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [_item(f"r{i}", 1) for i in range(MAX_ITEMS + 1)]}, "items"),
        (
            {"items": [_item("ok", 1), {"namespace": "acme", "service": "payment", "count": 1}]},
            "items[1].request_id",
        ),
        ({"items": [_item("r", 0)]}, "items[0].count"),
        ({"items": [_item("r", "2.5")]}, "items[0].count"),  # type: ignore[arg-type]
        ({"items": "all"}, "items"),
        ({}, "items"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(internal_api: Any, body: Any, field: str) -> None:
    acc = funded_account("acme", "1")
    r = internal_api.post(URL, body, format="json")
    assert r.status_code == 400, r.json()
    assert field in r.json()["data"]["errors"], r.json()
    assert QuotaUsage.objects.count() == 0 and not MonthlyQuota.objects.filter(account=acc).exists()


def test_needs_the_internal_permission(api: Any, user: Any) -> None:
    funded_account("alice", "1", member=user)
    r = api.post(URL, {"items": [_item("r", 1, "alice")]}, format="json")
    assert r.status_code == 403 and r.json()["code"] == 3306
    assert QuotaUsage.objects.count() == 0
