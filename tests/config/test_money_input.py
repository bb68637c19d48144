"""Issue 14.2: money and counts are canonical decimals / plain integers on every endpoint."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from billing.models import LedgerEntry, RechargeOrder
from config.api.fields import parse_count, parse_money
from tests.billing.factories import funded_account, grant
from tests.orders.vehicle.factories import plan_order_body

# Raw JSON texts of values that are not money.
NOT_MONEY = [
    "true",
    "false",
    "null",
    '"NaN"',
    '"Infinity"',
    '"-Infinity"',
    '"1e1"',
    "1e1",
    "1E+2",
    "1.5e0",
    "[]",
    '["10"]',
    "{}",
    '{"v": 10}',
    '"\uff11\uff10"',  # full-width digits
    '"\u0661\u0660"',  # Arabic-Indic digits
    '"1_0"',
    '" 10 "',
    '"10 "',
    '"+10"',
    '"10."',
    '".5"',
    '"0x10"',
    '""',
    '"1.00001"',
    '"12345678901234567"',
]


@pytest.mark.parametrize("raw", NOT_MONEY)
def test_parse_money_refuses(raw):
    from config.api.parsers import parse_json_text

    value = parse_json_text(f'{{"v": {raw}}}')["v"]
    with pytest.raises(ValueError):
        parse_money(value)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('"10"', "10"),
        ("10", "10"),
        ('"0.5"', "0.5"),
        ("12.3456", "12.3456"),
        ('"9999999999999999.9999"', None),
    ],
)
def test_parse_money_accepts_canonical_decimals(raw, expected):
    from config.api.parsers import parse_json_text

    value = parse_money(parse_json_text(f'{{"v": {raw}}}')["v"])
    assert isinstance(value, Decimal)
    if expected is not None:
        assert value == Decimal(expected)


def test_sign_only_where_allowed():
    with pytest.raises(ValueError):
        parse_money("-1")
    assert parse_money("-1.5", allow_negative=True) == Decimal("-1.5")


@pytest.mark.parametrize("value", [True, 1.0, Decimal("1"), "1", "\uff11", [1], {"a": 1}, None])
def test_counts_are_plain_integers(value):
    with pytest.raises(ValueError):
        parse_count(value)
    assert parse_count(3) == 3


def _recharge(api, raw_amount: str):
    raw = f'{{"amount": {raw_amount}, "currency": "CNY", "payment_method": "sandbox"}}'
    return api.post("/api/v1/billing/recharge", data=raw, content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [r for r in NOT_MONEY if r != "null"])
def test_recharge_refuses_non_canonical_amounts_naming_the_field(api, raw):
    r = _recharge(api, raw)
    assert r.status_code == 400, r.content[:300]
    body = r.json()
    assert body["code"] == 190101 and "amount" in body["data"]["errors"], body
    assert RechargeOrder.objects.count() == 0


@pytest.mark.django_db
def test_recharge_accepts_string_and_number(api):
    assert _recharge(api, '"10.50"').status_code == 201
    assert _recharge(api, "10.5").status_code == 201
    assert sorted(RechargeOrder.objects.values_list("amount", flat=True)) == [Decimal("10.5")] * 2


@pytest.fixture
def internal_api(make_user, client_for):
    return client_for(grant(make_user("metering"), "use_internal_api"))


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["true", '"5"', "5.0", "5e0", '"\uff15"', "[5]", '" 5 "', '"5_0"'])
def test_deduct_quota_count_is_a_plain_integer(internal_api, raw):
    acc = funded_account("acme", "100")
    body = f'{{"namespace": "acme", "service": "payment", "count": {raw}, "request_id": "r1"}}'
    r = internal_api.post("/internal/v1/billing/deduct-quota", data=body, content_type="application/json")
    assert r.status_code == 400, r.content[:300]
    assert "count" in r.json()["data"]["errors"]
    acc.refresh_from_db()
    assert acc.balance == Decimal("100") and LedgerEntry.objects.filter(account=acc).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["summary", "payment"])
@pytest.mark.parametrize("raw", ['"1e3"', '"\uff11\uff10"', '"1_000"', '" 3500.50 "', "true", "[]"])
def test_vehicle_money_fields_are_canonical(api, field, raw):
    from orders.vehicle.models import VehicleOrder

    body = plan_order_body()
    text = json.dumps(body).replace(json.dumps(body[field]), raw, 1)
    r = api.post("/api/v1/plan-orders", data=text, content_type="application/json")
    assert r.status_code == 400, r.content[:300]
    assert field in r.json()["data"]["errors"]
    assert VehicleOrder.objects.count() == 0


@pytest.mark.django_db
def test_schema_shows_the_money_pattern(client):
    schema = client.get("/api/schema/?format=json").json()
    text = json.dumps(schema)
    assert json.dumps(r"^\d{1,16}(\.\d{1,4})?$")[1:-1] in text
