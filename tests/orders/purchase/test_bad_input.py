"""Bad input on every /usageapi/v1 endpoint is a 4xx envelope naming the field, never a 500."""

from __future__ import annotations

import pytest

from tests.orders.purchase.helpers import account_of, make_plan

pytestmark = pytest.mark.django_db

BAD_BODIES = [
    [],
    "text",
    {"region": 5, "plan_id": {"x": 1}},
    {"region": "r", "plan_id": "vol-50g", "quantities": "abc"},
    {"region": "r", "plan_id": "vol-50g", "quantities": 1.5},
    {"region": "r", "plan_id": "vol-50g", "quantities": True},
    {"region": "r", "plan_id": "vol-50g", "parameters": []},
    {"region": "r", "plan_id": "vol-50g", "parameters": {"resource_name": 7}},
    {"region": "r" * 60, "plan_id": "p" * 60},
    {"namespace": 12, "region": "r", "plan_id": "vol-50g"},
    {"namespace": "x" * 80, "region": "r", "plan_id": "vol-50g"},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_create_bad_bodies(api, user, body):
    make_plan("vol-50g", "30", region="")
    account_of(user, "100")
    r = api.post("/usageapi/v1/orders", body, format="json")
    assert 400 <= r.status_code < 500, r.content
    assert r.json()["code"] in (3302, 3306, 3307, 3318)


@pytest.mark.parametrize(
    "url",
    [
        "/usageapi/v1/orders?page=abc",
        "/usageapi/v1/orders?size=-1",
        "/usageapi/v1/orders/abc",
        "/usageapi/v1/orders/99999999999999999999999",
        "/usageapi/v1/usages?order=nope",
        "/usageapi/v1/usages?page=x",
        "/usageapi/v1/speed?time=2026-02-30",
        "/usageapi/v1/speed?order=nope",
        "/usageapi/v1/reports?from=2026-03-01",
        "/usageapi/v1/reports?from=x&to=y",
        "/usageapi/v1/reports?period=2026-03&namespace=nobody-here",
    ],
)
def test_get_bad_params(api, user, url):
    r = api.get(url)
    assert 400 <= r.status_code < 500, r.content
    assert r.json()["code"] in (3306, 3307, 3318)


@pytest.mark.parametrize(
    "body", [[], {"action": 1}, {"action": "modify", "plan_id": ["x"]}, {"action": "modify"}]
)
def test_put_bad_bodies(api, user, body):
    make_plan("vol-50g", "30", region="")
    account = account_of(user, "100")
    from orders.purchase.services import purchase_order_create

    order = purchase_order_create(account=account, creator=user, region="r", plan_id="vol-50g").order
    r = api.put(f"/usageapi/v1/orders/{order.pk}", body, format="json")
    assert 400 <= r.status_code < 500, r.content
    assert r.json()["code"] in (3307, 3310, 3315)
