from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import Account, LedgerEntry, MonthlyQuota, QuotaUsage, RechargeOrder
from billing.quota import quota_deduct
from tests.billing.factories import funded_account, ledger_sum

pytestmark = pytest.mark.django_db

RECHARGE = {"amount": "100.00", "payment_method": "sandbox", "currency": "CNY"}


def test_account_shows_balance_and_quotas(api, user):
    acc = funded_account("alice", "12.5", member=user)
    quota_deduct(account_id=acc.pk, service="payment", count=3, request_id="x")
    r = api.get("/api/v1/billing/account")
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["namespace"] == "alice" and data["balance"] == "12.5000" and data["currency"] == "CNY"
    quotas = {q["service"]: q for q in data["quotas"]}
    assert quotas["payment"]["used"] == 3 and quotas["payment"]["remaining"] == 997
    assert quotas["passport"] == {**quotas["passport"], "total": 10000, "used": 0, "remaining": 10000}
    assert MonthlyQuota.objects.count() == 1  # reading did not create rows


def test_recharge_create_and_status(api, user):
    r = api.post("/api/v1/billing/recharge", RECHARGE, format="json")
    assert r.status_code == 201, r.json()
    data = r.json()["data"]
    assert data["status"] == "pending" and data["recharge_order_id"].startswith("R")
    assert data["pay_url"] == f"http://testserver/sandbox/pay/{data['recharge_order_id']}"
    order = RechargeOrder.objects.get(public_id=data["recharge_order_id"])
    assert order.amount == Decimal("100") and order.account.namespace == "alice"
    r = api.get(f"/api/v1/billing/recharges/{order.public_id}")
    assert r.status_code == 200 and r.json()["data"]["status"] == "pending"
    assert r.json()["data"]["amount"] == "100.0000"
    assert LedgerEntry.objects.count() == 0  # nothing credited before the callback


def test_recharge_is_idempotent_with_key(api):
    a = api.post("/api/v1/billing/recharge", RECHARGE, format="json", HTTP_IDEMPOTENCY_KEY="k")
    b = api.post("/api/v1/billing/recharge", RECHARGE, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert a.json() == b.json() and RechargeOrder.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"amount": "-5"}, 190101, "amount"),
        ({"amount": "0"}, 190101, "amount"),
        ({"amount": "abc"}, 190101, "amount"),
        ({"amount": "1.00001"}, 190101, "amount"),
        ({"amount": "NaN"}, 190101, "amount"),
        ({"currency": "USD"}, 190504, "currency"),
        ({"currency": ""}, 190503, "currency"),
        ({"payment_method": "bitcoin"}, 190304, "payment_method"),
        ({"payment_method": "http"}, 190304, "payment_method"),  # no PAYMENT_SERVICE_URL configured
    ],
)
def test_recharge_bad_input_is_clear_and_changes_nothing(api, body, code, field):
    r = api.post("/api/v1/billing/recharge", {**RECHARGE, **body}, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == code
    assert field in r.json()["data"]["errors"]
    assert RechargeOrder.objects.count() == 0 and LedgerEntry.objects.count() == 0


def test_recharge_missing_currency_is_190503(api):
    r = api.post("/api/v1/billing/recharge", {"amount": "1", "payment_method": "sandbox"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == 190503


def test_recharge_float_json_number_parsed_as_decimal(api):
    r = api.post(
        "/api/v1/billing/recharge",
        data='{"amount": 10.25, "payment_method": "sandbox", "currency": "CNY"}',
        content_type="application/json",
    )
    assert r.status_code == 201
    assert RechargeOrder.objects.get().amount == Decimal("10.25")


def test_tenant_isolation(api, make_user, client_for):
    bob = make_user("bob")
    bob_api = client_for(bob)
    r = bob_api.post("/api/v1/billing/recharge", RECHARGE, format="json")
    bob_id = r.json()["data"]["recharge_order_id"]
    funded_account("bob", "7", member=bob)
    r = api.get(f"/api/v1/billing/recharges/{bob_id}")
    assert r.status_code == 404 and r.json()["code"] == 190301
    for path in ("/api/v1/billing/account?namespace=bob", "/api/v1/billing/records?namespace=bob"):
        r = api.get(path)
        assert r.status_code == 403 and r.json()["code"] == 3306
        assert "7.0000" not in r.content.decode()
    r = api.post("/api/v1/billing/recharge", {**RECHARGE, "namespace": "bob"}, format="json")
    assert r.status_code == 403
    assert RechargeOrder.objects.filter(account__namespace="bob").count() == 1


def test_member_may_use_shared_namespace(api, user):
    funded_account("team", "3", member=user)
    r = api.get("/api/v1/billing/account?namespace=team")
    assert r.status_code == 200 and r.json()["data"]["balance"] == "3.0000"


def test_records_merge_ledger_and_quota_usage_with_filters_and_paging(api, user):
    acc = funded_account("alice", "100", member=user)
    quota_deduct(account_id=acc.pk, service="asset", count=1000, request_id="a")
    quota_deduct(account_id=acc.pk, service="asset", count=10, request_id="b")
    r = api.get("/api/v1/billing/records")
    data = r.json()["data"]
    assert data["total"] == 4  # seed credit + charge, two usage records
    kinds = sorted(x["kind"] for x in data["results"])
    assert kinds == ["charge", "quota", "quota", "recharge"]
    r = api.get("/api/v1/billing/records?kind=charge")
    assert r.json()["data"]["total"] == 1 and r.json()["data"]["results"][0]["amount"] == "-0.5000"
    r = api.get("/api/v1/billing/records?kind=quota&size=1&page=2")
    d = r.json()["data"]
    assert d["total"] == 2 and len(d["results"]) == 1 and d["results"][0]["request_id"] == "a"
    r = api.get("/api/v1/billing/records?from=2000-01-01&to=2000-01-02")
    assert r.json()["data"]["total"] == 0
    for bad in ("kind=nope", "from=yesterday", "page=0", "size=x", "page=9"):
        r = api.get(f"/api/v1/billing/records?{bad}")
        assert r.status_code == 400, bad
        assert r.json()["data"]["errors"]


def test_internal_endpoints_need_permission(api, user):
    funded_account("alice", "1", member=user)
    for path, body in (
        ("/internal/v1/billing/check-quota", {"namespace": "alice", "service": "payment", "count": 1}),
        (
            "/internal/v1/billing/deduct-quota",
            {"namespace": "alice", "service": "payment", "count": 1, "request_id": "r"},
        ),
    ):
        r = api.post(path, body, format="json")
        assert r.status_code == 403 and r.json()["code"] == 3306
    assert QuotaUsage.objects.count() == 0


def test_internal_check_and_deduct(internal_api):
    acc = funded_account("acme", "1")
    r = internal_api.post(
        "/internal/v1/billing/check-quota",
        {"namespace": "acme", "service": "payment", "count": 1011},
        format="json",
    )
    assert r.json()["data"] == {"allowed": False, "reason": "insufficient balance"}
    body = {"namespace": "acme", "service": "payment", "count": 1005, "request_id": "req-1"}
    r = internal_api.post("/internal/v1/billing/deduct-quota", body, format="json")
    assert r.status_code == 200, r.json()
    data = r.json()["data"]
    assert (data["free_count"], data["paid_count"], data["amount"], data["balance"]) == (
        1000,
        5,
        "0.5000",
        "0.5000",
    )
    assert [p["type"] for p in data["records"]] == ["free", "paid"]
    again = internal_api.post("/internal/v1/billing/deduct-quota", body, format="json").json()["data"]
    assert again["replayed"] is True and {**again, "replayed": False} == data
    acc.refresh_from_db()
    assert acc.balance == Decimal("0.5") == ledger_sum(acc)


@pytest.mark.parametrize(
    ("patch", "status", "code", "field"),
    [
        ({"count": 0}, 400, 190101, "count"),
        ({"count": -3}, 400, 190101, "count"),
        ({"count": "many"}, 400, 190101, "count"),
        ({"service": "teleport"}, 400, 190205, "service"),
        ({"namespace": "ghost"}, 404, 190103, "namespace"),
        ({"request_id": ""}, 400, 190101, "request_id"),
    ],
)
def test_deduct_bad_input(internal_api, patch, status, code, field):
    funded_account("acme", "1")
    body = {"namespace": "acme", "service": "payment", "count": 1, "request_id": "r", **patch}
    r = internal_api.post("/internal/v1/billing/deduct-quota", body, format="json")
    assert r.status_code == status and r.json()["code"] == code
    assert field in r.json()["data"]["errors"]
    assert QuotaUsage.objects.count() == 0 and MonthlyQuota.objects.count() == 0


def test_deduct_insufficient_is_190102_and_changes_nothing(internal_api):
    acc = funded_account("acme", "0.05")
    quota_deduct(account_id=acc.pk, service="payment", count=1000, request_id="all-free")
    body = {"namespace": "acme", "service": "payment", "count": 1, "request_id": "r"}
    r = internal_api.post("/internal/v1/billing/deduct-quota", body, format="json")
    assert r.status_code == 400 and r.json()["code"] == 190102
    assert QuotaUsage.objects.count() == 1 and LedgerEntry.objects.filter(kind="charge").count() == 0
    assert Account.objects.get(pk=acc.pk).balance == Decimal("0.05")


def test_schema_builds(staff_api):
    r = staff_api.get("/api/schema/?format=json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/internal/v1/billing/deduct-quota" in paths and "/api/v1/billing/records" in paths


def test_deduct_quota_path_stays_lean(internal_api, django_assert_max_num_queries):
    acc = funded_account("acme", "100")
    quota_deduct(account_id=acc.pk, service="payment", count=1000, request_id="warm")  # quota used up
    body = {"namespace": "acme", "service": "payment", "count": 2, "request_id": "paid-1"}
    # auth 3, account 1, service 1, lock + replay check + quota row 3, account_charge 6, usage insert 1
    with django_assert_max_num_queries(17):
        r = internal_api.post("/internal/v1/billing/deduct-quota", body, format="json")
    assert r.status_code == 200 and r.json()["data"]["paid_count"] == 2


@pytest.mark.parametrize(
    ("patch", "status", "code", "field"),
    [
        ({"count": 0}, 400, 190101, "count"),
        ({"count": -1}, 400, 190101, "count"),
        ({"service": "teleport"}, 400, 190205, "service"),
        ({"namespace": "ghost"}, 404, 190103, "namespace"),
    ],
)
def test_check_quota_bad_input(internal_api, patch, status, code, field):
    funded_account("acme", "1")
    body = {"namespace": "acme", "service": "payment", "count": 1, **patch}
    r = internal_api.post("/internal/v1/billing/check-quota", body, format="json")
    assert r.status_code == status and r.json()["code"] == code
    assert field in r.json()["data"]["errors"]
    assert MonthlyQuota.objects.count() == 0


def test_check_quota_reasons(internal_api):
    acc = funded_account("acme", "1")
    quota_deduct(account_id=acc.pk, service="asset", count=1000, request_id="x")

    def check(count):
        body = {"namespace": "acme", "service": "asset", "count": count}
        return internal_api.post("/internal/v1/billing/check-quota", body, format="json").json()["data"]

    assert check(20) == {"allowed": True, "reason": "balance"}
    assert check(21) == {"allowed": False, "reason": "insufficient balance"}
    body = {"namespace": "acme", "service": "passport", "count": 5}
    r = internal_api.post("/internal/v1/billing/check-quota", body, format="json").json()["data"]
    assert r == {"allowed": True, "reason": "free"}
    assert QuotaUsage.objects.count() == 1 and Account.objects.get(pk=acc.pk).balance == Decimal("1")
