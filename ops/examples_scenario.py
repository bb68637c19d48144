"""The calls ``manage.py record_api_examples`` makes (config/api/examples.py): every API operation
once, on the demo data, as a client would. A body or path may depend on an earlier answer
(``keep``), e.g. the order id a create returned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from ops.examples_bodies import (
    PACKAGE_ORDER,
    PURCHASE_ORDER,
    SECOND_PACKAGE_ORDER,
    Context,
    example_uuid,
    plan_items,
    signed_callback_headers,
)

Value = Any | Callable[[Context], Any]


@dataclass(frozen=True)
class Call:
    method: str
    template: str  # the schema's path, e.g. /api/v1/orders/{order_id}
    path: Value = None  # the concrete path (defaults to the template)
    body: Value = None
    query: Value = None
    status: int = 200
    who: str = "demo"  # demo (the API user) or admin (staff and internal calls)
    keep: Callable[[Context, Any], None] | None = None  # remember ids for later calls
    headers: Value = None


def value_of(value: Value, ctx: Context) -> Any:
    return value(ctx) if callable(value) else value


def _keep(key: str, pick: Callable[[Any], Any]) -> Callable[[Context, Any], None]:
    def keep(ctx: Context, data: Any) -> None:
        ctx[key] = pick(data)

    return keep


def scenario() -> list[Call]:
    """Every call, in the order they run: later calls use ids the earlier ones kept."""
    return [
        *_wallet_calls(),
        *_catalog_calls(),
        *_purchase_order_calls(),
        *_package_order_calls(),
        *_instance_calls(),
        *_vehicle_plan_order_calls(),
        *_vehicle_other_order_calls(),
        *_statement_calls(),
    ]


def _wallet_calls() -> list[Call]:
    """The wallet: account, a recharge paid through the signed callback."""
    return [
        Call("GET", "/api/v1/me"),
        Call("GET", "/api/v1/billing/account"),
        Call(
            "POST",
            "/api/v1/billing/recharge",
            body={"amount": "2000.00", "currency": "CNY", "payment_method": "sandbox"},
            status=201,
            keep=_keep("recharge", lambda d: d["recharge_order_id"]),
        ),
        Call(
            "GET",
            "/api/v1/billing/recharges/{public_id}",
            path=lambda c: f"/api/v1/billing/recharges/{c['recharge']}",
        ),
        Call(
            "POST",
            "/internal/v1/billing/callback",
            who="anonymous",
            body=lambda c: c.setdefault(
                "callback",
                {
                    "recharge_order_id": c["recharge"],
                    "payment_id": f"PAY-{c['recharge']}",
                    "amount": "2000.00",
                    "status": "SUCCESS",
                },
            ),
            headers=signed_callback_headers,
        ),
    ]


def _catalog_calls() -> list[Call]:
    """The catalog: reads, a cost quote, and staff creating a plan with a future price."""
    return [
        Call("GET", "/api/v1/catalog", who="admin"),
        Call("GET", "/api/v1/products"),
        Call("GET", "/api/v1/products/{prod_id}", path="/api/v1/products/ecs"),
        Call("GET", "/api/v1/plans", keep=_keep("plans", lambda d: d)),
        Call("GET", "/api/v1/plans/{plan_id}", path="/api/v1/plans/vol-50g"),
        Call(
            "POST",
            "/api/v1/cost",
            body={
                "prod_id": "ecs",
                "plan_id": "ecs-std",
                "components": [{"component_id": "cpu", "attrs": {"cores": "2"}}],
            },
        ),
        Call(
            "POST",
            "/api/v1/plans",
            who="admin",
            status=201,
            body={
                "plan_id": "example-vol-200g",
                "name": "Volume 200 GB",
                "plan_type": "volume",
                "region": "cn-north-1",
                "billing_mode": "prepaid",
                "cycle": "month",
            },
        ),
        Call(
            "PATCH",
            "/api/v1/plans/{plan_id}",
            path="/api/v1/plans/example-vol-200g",
            who="admin",
            body={"name": "Volume 200 GB (SSD)"},
        ),
        Call(
            "POST",
            "/api/v1/plans/{plan_id}/prices",
            path="/api/v1/plans/example-vol-200g/prices",
            who="admin",
            status=201,
            body=lambda c: {
                "price": "12.50",
                "effective_from": (timezone.now() + timedelta(days=40)).replace(microsecond=0).isoformat(),
            },
        ),
    ]


def _purchase_order_calls() -> list[Call]:
    """Purchase orders (/usageapi/v1), usage and the wallet's records and alerts."""
    return [
        Call("POST", "/usageapi/v1/orders", body=PURCHASE_ORDER, query={"drytry": "1"}, status=200),
        Call(
            "POST",
            "/usageapi/v1/orders",
            body=PURCHASE_ORDER,
            status=201,
            keep=_keep("purchase", lambda d: d["order"]["order_id"]),
        ),
        Call("GET", "/usageapi/v1/orders"),
        Call("GET", "/usageapi/v1/orders/{order_id}", path=lambda c: f"/usageapi/v1/orders/{c['purchase']}"),
        Call(
            "PUT",
            "/usageapi/v1/orders/{order_id}",
            path=lambda c: f"/usageapi/v1/orders/{c['purchase']}",
            body={"action": "renew"},
            query={"drytry": "1"},
        ),
        Call("GET", "/usageapi/v1/usages"),
        Call("GET", "/usageapi/v1/reports", query=lambda c: {"period": timezone.now().strftime("%Y-%m")}),
        Call("GET", "/usageapi/v1/speed"),
        Call("GET", "/api/v1/billing/records"),
        Call("PATCH", "/api/v1/billing/alerts", body={"balance_below": "100.00", "runway_below_days": 10}),
        Call("GET", "/api/v1/billing/alerts"),
        Call("GET", "/api/v1/consume-orders"),
    ]


def _package_order_calls() -> list[Call]:
    """Package orders: create, charge, a meter event, bills."""
    return [
        Call("POST", "/api/v1/package-orders", body=PACKAGE_ORDER, query={"drytry": "1"}, status=200),
        Call(
            "POST",
            "/api/v1/package-orders",
            body=PACKAGE_ORDER,
            status=201,
            keep=_keep("package", lambda d: d["order_id"]),
        ),
        Call("GET", "/api/v1/package-orders"),
        Call(
            "GET",
            "/api/v1/package-orders/{order_id}",
            path=lambda c: f"/api/v1/package-orders/{c['package']}",
        ),
        Call(
            "POST",
            "/api/v1/package-orders/{order_id}/charge",
            path=lambda c: f"/api/v1/package-orders/{c['package']}/charge",
        ),
        Call(
            "POST",
            "/api/v1/meter-events",
            body=lambda c: {
                "events": [
                    {
                        "event_id": "example-1",
                        "instance": "demo-ecs-1",
                        "component_id": "traffic",
                        "quantity": "3",
                        # whole seconds, rounded up: the demo order may have started within
                        # this second, and a usage before its period start counts as billed
                        "timestamp": (timezone.now() + timedelta(seconds=1))
                        .replace(microsecond=0)
                        .isoformat(),
                    }
                ]
            },
        ),
        Call("POST", "/api/v1/meter-events/void", body={"event_ids": ["example-1"]}),
        Call("GET", "/api/v1/bills"),
    ]


def _instance_calls() -> list[Call]:
    """Instances of the package order, and a second order cancelled unpaid."""
    return [
        Call(
            "POST",
            "/api/v1/instances/{prod_inst_id_ext}/renew",
            path="/api/v1/instances/example-ecs-1/renew",
            body={"duration": "1"},
            query={"drytry": "1"},
        ),
        Call(
            "POST",
            "/api/v1/instances/{prod_inst_id_ext}/change-config",
            path="/api/v1/instances/example-ecs-1/change-config",
            body={
                "plan_id": "ecs-std",
                "component_infos": [
                    {"component_id": "cpu", "attrs_id_value": [{"attr_id": "cores", "attr_value": "4"}]}
                ],
            },
            query={"drytry": "1"},
        ),
        Call(
            "POST", "/api/v1/instances/{prod_inst_id_ext}/pause", path="/api/v1/instances/example-ecs-1/pause"
        ),
        Call(
            "POST",
            "/api/v1/instances/{prod_inst_id_ext}/resume",
            path="/api/v1/instances/example-ecs-1/resume",
        ),
        Call(
            "POST", "/api/v1/instances/{prod_inst_id_ext}/stop", path="/api/v1/instances/example-ecs-1/stop"
        ),
        Call(
            "POST",
            "/api/v1/package-orders",
            body=SECOND_PACKAGE_ORDER,
            status=201,
            keep=_keep("unpaid_package", lambda d: d["order_id"]),
        ),
        Call(
            "POST",
            "/api/v1/package-orders/{order_id}/cancel",
            path=lambda c: f"/api/v1/package-orders/{c['unpaid_package']}/cancel",
        ),
    ]


def _vehicle_plan_order_calls() -> list[Call]:
    """Vehicle plan orders: create, pay, underwrite, events, a cancel preview."""
    return [
        Call(
            "POST",
            "/api/v1/plan-orders",
            status=201,
            body=lambda c: {
                "vid": example_uuid("vehicle-1"),
                "qid": example_uuid("quote-1"),
                "plans": {"car-basic": {item["piid"]: item["price"] for item in plan_items(c, "car-basic")}},
                "service_ratio": "0.05",
                "summary": c["car-basic_total"],
                "payment": c["car-basic_total"],
                "expect_at": (timezone.now() + timedelta(days=1)).isoformat(),
            },
            keep=_keep("vehicle", lambda d: d["order_id"]),
        ),
        Call("GET", "/api/v1/orders"),
        Call("GET", "/api/v1/orders/{order_id}", path=lambda c: f"/api/v1/orders/{c['vehicle']}"),
        Call(
            "POST",
            "/api/v1/orders/{order_id}/pay",
            path=lambda c: f"/api/v1/orders/{c['vehicle']}/pay",
            query={"drytry": "1"},
        ),
        Call("POST", "/api/v1/orders/{order_id}/pay", path=lambda c: f"/api/v1/orders/{c['vehicle']}/pay"),
        Call(
            "POST",
            "/api/v1/orders/{order_id}/underwrite",
            who="admin",
            path=lambda c: f"/api/v1/orders/{c['vehicle']}/underwrite",
            body={"result": "approved", "reason": "documents complete"},
        ),
        Call(
            "GET", "/api/v1/orders/{order_id}/events", path=lambda c: f"/api/v1/orders/{c['vehicle']}/events"
        ),
        Call(
            "POST",
            "/api/v1/orders/{order_id}/cancel",
            path=lambda c: f"/api/v1/orders/{c['vehicle']}/cancel",
            body={"reason": "customer changed their mind"},
            query={"drytry": "1"},
        ),
    ]


def _vehicle_other_order_calls() -> list[Call]:
    """Driver and sale orders, then the internal gateway's quota calls."""
    return [
        Call(
            "POST",
            "/api/v1/driver-orders",
            status=201,
            body={
                "vid": example_uuid("vehicle-1"),
                "dids": [example_uuid("driver-1")],
                "summary": "200.00",
                "payment": "150.00",
            },
        ),
        Call(
            "POST",
            "/api/v1/sale-orders",
            status=201,
            body=lambda c: {
                "vid": example_uuid("vehicle-2"),
                "qid": example_uuid("quote-2"),
                "items": {item["piid"]: item["price"] for item in plan_items(c, "car-plus")},
                "summary": c["car-plus_total"],
                "payment": c["car-plus_total"],
            },
        ),
        # internal gateway calls
        Call(
            "POST",
            "/internal/v1/billing/check-quota",
            who="admin",
            body={"namespace": "demo", "service": "payment", "count": 1},
        ),
        Call(
            "POST",
            "/internal/v1/billing/deduct-quota",
            who="admin",
            body={"namespace": "demo", "service": "payment", "count": 1, "request_id": "example-req-1"},
        ),
        Call(
            "POST",
            "/internal/v1/billing/deduct-quota/batch",
            who="admin",
            body={
                "items": [
                    {"namespace": "demo", "service": "payment", "count": 2, "request_id": "example-req-2"},
                    {"namespace": "demo", "service": "payment", "count": 1, "request_id": "example-req-1"},
                    {"namespace": "demo", "service": "sms", "count": 1, "request_id": "example-req-3"},
                ]
            },
        ),
    ]


def _statement_calls() -> list[Call]:
    """Statements and credit notes."""
    return [
        Call(
            "GET",
            "/api/v1/billing/statements/draft",
            query=lambda c: {"period": timezone.now().strftime("%Y-%m")},
        ),
        Call("GET", "/api/v1/billing/statements"),
        Call("GET", "/api/v1/billing/credit-notes"),
    ]
