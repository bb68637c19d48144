"""Vehicle-order steps through ``/api/v1``: place (plan, driver, sale), pay, cancel and staff
underwriting; take effect and expiry come from beat (the ticks)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from orders.models import VehicleOrder, VehicleOrderEvent
from orders.simulation.context import Ctx
from orders.simulation.schedule import Op
from orders.simulation.snapshot import previewed
from orders.simulation.world import call
from plans.demo import demo_piid

ITEMS = {
    "car-basic": {"car-basic/liability": "1000.00", "car-basic/theft": "300.00", "car-basic/glass": "200.00"},
    "car-plus": {"car-plus/liability": "1800.00", "car-plus/damage": "600.00", "car-plus/roadside": "200.00"},
}


def _random_uuid(ctx: Ctx) -> str:
    return str(uuid.UUID(int=ctx.rng.getrandbits(128), version=4))


def _payment(summary: Decimal, part: str) -> str:
    if part == "zero":
        return "0.00"
    if part == "part":
        return str((summary * Decimal("0.6")).quantize(Decimal("0.01"), rounding=ROUND_DOWN))
    return str(summary)


def op_veh_place(ctx: Ctx, op: Op) -> str:
    a = op.args
    plan = ctx.rng.choice(sorted(ITEMS))
    chosen = dict(list(ITEMS[plan].items())[: ctx.rng.randrange(1, 4)])
    items = {str(demo_piid(name)): price for name, price in chosen.items()}
    summary = sum((Decimal(p) for p in items.values()), Decimal(0))
    body: dict[str, Any]
    if a["type"] == "plan":
        path = "/api/v1/plan-orders"
        body = {
            "vid": _random_uuid(ctx),
            "plans": {plan: items},
            "qid": _random_uuid(ctx),
            "service_ratio": "0.1000",
            "expect_at": (ctx.clock() + timedelta(days=a["expect_days"])).isoformat(),
        }
    elif a["type"] == "driver":
        path, summary = "/api/v1/driver-orders", Decimal("120.00")
        body = {"vid": _random_uuid(ctx), "dids": [_random_uuid(ctx), _random_uuid(ctx)]}
    else:
        path = "/api/v1/sale-orders"
        body = {"vid": _random_uuid(ctx), "qid": _random_uuid(ctx), "items": items}
    body.update(summary=str(summary), payment=_payment(summary, a["pay_part"]))
    k = a["account"]
    before = ctx.world.balance(k)
    r = ctx.answered(call(ctx.world.api(k), "POST", path, body, key=ctx.key()), "vehicle place")
    ctx.money_moved(k, before, Decimal(0), "vehicle order placed (nothing charged before /pay)")
    if not r.ok:
        return f"refused {r.code}"
    ctx.world.created[op.index] = r.data["order_id"]
    return f"placed {a['type']} {r.data['order_no']}"


def _target_order(ctx: Ctx, op: Op) -> VehicleOrder | None:
    ref = op.args.get("ref")
    if ref is not None:
        made = ctx.world.created.get(ref)
        return VehicleOrder.objects.filter(order_id=made).first() if made else None
    orders = list(
        VehicleOrder.objects.filter(account__namespace=ctx.world.namespace(op.args["account"])).order_by("pk")
    )
    return orders[ctx.rng.randrange(len(orders))] if orders else None


def _money_of_last_event(order: VehicleOrder, after_id: int, key: str) -> Decimal:
    event = VehicleOrderEvent.objects.filter(order=order, id__gt=after_id).order_by("-id").first()
    if event is None:
        return Decimal(0)
    return Decimal(str((event.data or {}).get(key, "0")))


def _last_event_id(order: VehicleOrder) -> int:
    return (
        VehicleOrderEvent.objects.filter(order=order).order_by("-id").values_list("id", flat=True).first()
        or 0
    )


def op_veh_pay(ctx: Ctx, op: Op) -> str:
    order = _target_order(ctx, op)
    if order is None:
        return "no target"
    k = op.args["account"]
    api = ctx.world.api(k)
    path = f"/api/v1/orders/{order.order_id}/pay"
    preview = previewed(ctx, api, "POST", path, {}) if ctx.rng.random() < 0.4 else None
    before, was = ctx.world.balance(k), order.state_code
    calls = [
        lambda i=i: call(api, "POST", path, {}, key=ctx.key(str(i)))
        for i in range(2 if op.args.get("twice") else 1)
    ]
    answers = [ctx.answered(r, "vehicle pay") for r in ctx.concurrently(calls)]
    paid = any(r.ok for r in answers)
    ctx.expect(
        "vehicle_paid_once", sum(r.ok for r in answers) <= 1, f"pay of {order.order_no} succeeded twice"
    )
    ctx.money_moved(
        k, before, -order.payment if paid and was == 1 else Decimal(0), f"pay of {order.order_no}"
    )
    if preview is not None and paid:
        charge = Decimal(str(preview.data.get("charge"))) if preview.ok else None
        ctx.expect("preview_matches_effect", charge == order.payment, f"pay preview {preview.data}")
    return "paid" if paid else f"refused {[r.code for r in answers]}"


def op_veh_cancel(ctx: Ctx, op: Op) -> str:
    order = _target_order(ctx, op)
    if order is None:
        return "no target"
    k = op.args["account"]
    before, last = ctx.world.balance(k), _last_event_id(order)
    r = ctx.answered(
        call(
            ctx.world.api(k),
            "POST",
            f"/api/v1/orders/{order.order_id}/cancel",
            {"reason": "sim"},
            key=ctx.key(),
        ),
        "vehicle cancel",
    )
    refund = _money_of_last_event(order, last, "refund") if r.ok else Decimal(0)
    ctx.money_moved(k, before, refund, f"cancel of {order.order_no}")
    return f"canceled, refund {refund}" if r.ok else f"refused {r.code}"


def op_veh_underwrite(ctx: Ctx, op: Op) -> str:
    order = _target_order(ctx, op)
    if order is None:
        return "no target"
    k = op.args["account"]
    result = "rejected" if op.args.get("reject") else "approved"
    before, last = ctx.world.balance(k), _last_event_id(order)
    r = ctx.answered(
        call(
            ctx.world.staff_api(),
            "POST",
            f"/api/v1/orders/{order.order_id}/underwrite",
            {"result": result, "reason": "sim underwriter"},
            key=ctx.key(),
        ),
        "underwrite",
    )
    refund = _money_of_last_event(order, last, "refund") if r.ok else Decimal(0)
    ctx.money_moved(k, before, refund, f"underwriting ({result}) of {order.order_no}")
    return f"{result}" if r.ok else f"refused {r.code}"
