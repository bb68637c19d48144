from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import permissions as perm_module
from billing.models import Account, LedgerEntry, MonthlyQuota, QuotaUsage, RechargeOrder
from billing.permissions import permission_cache_clear
from billing.quota import metered_service_cache_clear, quota_deduct
from tests.billing.factories import funded_account, grant, ledger_sum

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_caches():
    # per-process caches outlive a test's rolled-back rows (and SQLite reuses primary keys)
    metered_service_cache_clear()
    permission_cache_clear()
    yield
    metered_service_cache_clear()
    permission_cache_clear()


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
    pay_url, _, token = data["pay_url"].partition("?token=")
    assert pay_url == f"http://testserver/sandbox/pay/{data['recharge_order_id']}" and len(token) >= 32
    order = RechargeOrder.objects.get(public_id=data["recharge_order_id"])
    assert order.pay_url == pay_url and token not in order.pay_token_hash  # stored hashed only
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


def test_deduct_quota_paid_call_query_count_is_pinned(internal_api):
    """One paid call: the token lookup plus four statements in one transaction (account and quota
    row locked by one SELECT). The permission answer and the metered service come from per-process
    caches (warmed by the first call). Before: 17 queries."""
    acc = funded_account("acme", "100")
    quota_deduct(account_id=acc.pk, service="payment", count=1000, request_id="warm")  # quota used up
    body = {"namespace": "acme", "service": "payment", "count": 2, "request_id": "paid-0"}
    assert internal_api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 200
    body["request_id"] = "paid-1"
    with CaptureQueriesContext(connection) as ctx:
        r = internal_api.post("/internal/v1/billing/deduct-quota", body, format="json")
    assert r.status_code == 200 and r.json()["data"]["paid_count"] == 2
    sqls = [q["sql"] for q in ctx.captured_queries]
    # the test runs inside a transaction, so the view's atomic() is a SAVEPOINT pair here; in
    # production it is BEGIN/COMMIT, which Django does not log
    savepoints = [s for s in sqls if "SAVEPOINT" in s.upper()]
    statements = [s for s in sqls if "SAVEPOINT" not in s.upper()]
    assert len(savepoints) == 2, sqls
    assert len(statements) == 5, statements
    assert "authtoken_token" in statements[0]
    lock = statements[1]
    assert "billing_account" in lock and "billing_monthlyquota" in lock and "namespace" in lock
    if connection.features.has_select_for_update:
        assert lock.rstrip().upper().endswith("FOR UPDATE")
    assert statements[2].startswith("UPDATE") and "billing_account" in statements[2]
    assert statements[3].startswith("INSERT") and "billing_ledgerentry" in statements[3]
    assert statements[4].startswith("INSERT") and "billing_quotausage" in statements[4]
    assert not [s for s in statements if "auth_permission" in s or "plans_meteredservice" in s]
    acc.refresh_from_db()
    assert acc.balance == Decimal("99.6") == ledger_sum(acc)
    assert LedgerEntry.objects.filter(account=acc, kind="charge").count() == 2
    usage = QuotaUsage.objects.get(request_id="paid-1")
    assert (usage.paid_count, usage.amount, usage.balance_after) == (2, Decimal("0.2"), Decimal("99.6"))
    assert usage.ledger_entry_id == r.json()["data"]["records"][0]["ledger_entry_id"]


def test_replayed_deduct_through_the_api_answers_the_first_result_after_the_money_is_gone(internal_api):
    acc = funded_account("acme", "0.3")
    quota_deduct(account_id=acc.pk, service="payment", count=1000, request_id="warm")
    body = {"namespace": "acme", "service": "payment", "count": 3, "request_id": "once"}
    first = internal_api.post("/internal/v1/billing/deduct-quota", body, format="json").json()
    again = internal_api.post("/internal/v1/billing/deduct-quota", body, format="json").json()
    assert first["code"] == 0 and first["data"]["balance"] == "0.0000"
    assert again["data"] == {**first["data"], "replayed": True}
    r = internal_api.post("/internal/v1/billing/deduct-quota", {**body, "request_id": "new"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == 190102
    acc.refresh_from_db()
    assert acc.balance == Decimal("0") == ledger_sum(acc)
    assert QuotaUsage.objects.filter(account=acc).count() == 2


def test_permission_is_cached_but_a_revoke_in_this_process_applies_at_once(make_user, client_for):
    funded_account("acme", "1")
    svc_user = grant(make_user("metering"), "use_internal_api")
    api = client_for(svc_user)
    body = {"namespace": "acme", "service": "payment", "count": 1, "request_id": "p1"}
    assert api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 200
    perm = Permission.objects.get(codename="use_internal_api", content_type__app_label="billing")
    svc_user.user_permissions.remove(perm)
    body["request_id"] = "p2"
    r = api.post("/internal/v1/billing/deduct-quota", body, format="json")
    assert r.status_code == 403 and r.json()["code"] == 3306
    group = Group.objects.create(name="metering-services")
    group.permissions.add(perm)
    svc_user.groups.add(group)
    assert api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 200
    group.permissions.remove(perm)
    body["request_id"] = "p3"
    assert api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 403
    assert sorted(QuotaUsage.objects.values_list("request_id", flat=True)) == ["p1", "p2"]


def test_deactivated_user_or_deleted_token_is_refused_at_once(make_user, client_for):
    from rest_framework.authtoken.models import Token

    funded_account("acme", "1")
    svc_user = grant(make_user("metering"), "use_internal_api")
    api = client_for(svc_user)
    body = {"namespace": "acme", "service": "payment", "count": 1, "request_id": "a1"}
    assert api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 200
    type(svc_user).objects.filter(pk=svc_user.pk).update(is_active=False)  # no signal: still refused
    body["request_id"] = "a2"
    assert api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code in (401, 403)
    type(svc_user).objects.filter(pk=svc_user.pk).update(is_active=True)
    assert api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 200
    Token.objects.filter(user=svc_user).delete()
    body["request_id"] = "a3"
    assert api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 401
    assert sorted(QuotaUsage.objects.values_list("request_id", flat=True)) == ["a1", "a2"]


def test_permission_granted_elsewhere_is_seen_within_the_ttl(make_user, client_for, monkeypatch):
    funded_account("acme", "1")
    u = make_user("late")
    api = client_for(u)
    body = {"namespace": "acme", "service": "payment", "count": 1, "request_id": "t1"}
    assert api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 403
    # another process grants it: no signal here (simulated by a raw insert into the m2m table)
    perm = Permission.objects.get(codename="use_internal_api", content_type__app_label="billing")
    type(u).user_permissions.through.objects.bulk_create(
        [type(u).user_permissions.through(user_id=u.pk, permission_id=perm.pk)]
    )
    assert api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 403  # cached
    later = perm_module._now() + perm_module.PERMISSION_CACHE_SECONDS + 1
    monkeypatch.setattr(perm_module, "_now", lambda: later)  # the TTL has passed
    assert api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 200


def test_superuser_needs_no_permission_row(make_user, client_for):
    funded_account("acme", "1")
    api = client_for(make_user("root", superuser=True))
    body = {"namespace": "acme", "service": "payment", "count": 1, "request_id": "s1"}
    assert api.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 200


def test_unknown_namespace_is_reported_before_unknown_service(internal_api):
    body = {"namespace": "ghost", "service": "teleport", "count": 1, "request_id": "r"}
    r = internal_api.post("/internal/v1/billing/deduct-quota", body, format="json")
    assert r.status_code == 404 and r.json()["code"] == 190103


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


def test_hand_built_deduct_body_equals_the_schema_serializer():
    from billing.api.internal import deduct_result
    from billing.api.serializers import DeductResultSerializer

    def via_serializer(d):
        u = d.usage
        records = []
        if u.free_count:
            records.append(
                {"type": "free", "count": u.free_count, "amount": Decimal("0"), "ledger_entry_id": None}
            )
        if u.paid_count:
            records.append(
                {
                    "type": "paid",
                    "count": u.paid_count,
                    "amount": u.amount,
                    "ledger_entry_id": u.ledger_entry_id,
                }
            )
        data = {
            "request_id": u.request_id,
            "free_count": u.free_count,
            "paid_count": u.paid_count,
            "amount": u.amount,
            "balance": u.balance_after,
            "replayed": d.replayed,
            "records": records,
        }
        return DeductResultSerializer(data).data

    acc = funded_account("acme", "123456789.5")
    cases = [
        quota_deduct(account_id=acc.pk, service="payment", count=990, request_id="free"),  # free only
        quota_deduct(account_id=acc.pk, service="payment", count=25, request_id="both"),  # free + paid
        quota_deduct(account_id=acc.pk, service="payment", count=7, request_id="paid"),  # paid only
        quota_deduct(account_id=acc.pk, service="payment", count=7, request_id="paid"),  # replay (ORM row)
        quota_deduct(account_id=acc.pk, service="asset", count=10**9, request_id="big"),  # large amount
    ]
    for d in cases:
        assert deduct_result(d) == via_serializer(d), d.usage.request_id
    assert cases[3].replayed and deduct_result(cases[3])["balance"] == deduct_result(cases[2])["balance"]
