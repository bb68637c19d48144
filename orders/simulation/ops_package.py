"""Package-order steps through ``/api/v1``: create (prepaid disk, hourly cpu and postpaid traffic in
one instance: all three billing modes), charge (sometimes twice at once), cancel, the instance
operations and meter events (duplicates and late ones)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from orders.models import PackageOrder, ProductInstance
from orders.simulation.context import Ctx
from orders.simulation.schedule import Op
from orders.simulation.snapshot import preview_agrees, previewed, unchanged
from orders.simulation.world import Resp, call
from usage.models import MeterEvent


def _target_order(ctx: Ctx, op: Op) -> PackageOrder | None:
    ref = op.args.get("ref")
    if ref is not None:
        made = ctx.world.created.get(ref)
        return PackageOrder.objects.filter(order_id=made["order_id"]).first() if made else None
    orders = list(
        PackageOrder.objects.filter(account__namespace=ctx.world.namespace(op.args["account"])).order_by("pk")
    )
    return orders[ctx.rng.randrange(len(orders))] if orders else None


def _target_instance(ctx: Ctx, op: Op) -> ProductInstance | None:
    order = _target_order(ctx, op)
    if order is None:
        return None
    instances = list(order.instances.order_by("pk"))
    return instances[op.args.get("which", 0) % len(instances)] if instances else None


def _attrs(cores: int, disk: str) -> list[dict[str, Any]]:
    return [{"attr_id": "cores", "attr_value": cores}, {"attr_id": "disk_type", "attr_value": disk}]


def op_pkg_create(ctx: Ctx, op: Op) -> str:
    a = op.args
    k = a["account"]
    ns = ctx.world.namespace(k)
    exts = [f"{ctx.key()}-i{j}" for j in range(a["instances"])]
    body = {
        "app_id": "sim",
        "order_user_id": ns,
        "order_user_name": ns,
        "description": "simulated",
        "extra_info": {"step": op.index},
        "order_product_set": [
            {
                "prod_id": "ecs",
                "prod_name": "Cloud server",
                "prod_instance_ext_array": [
                    {"id": ext, "is_auto_renew": int(auto)}
                    for ext, auto in zip(exts, a["auto_renew"], strict=True)
                ],
                "plan": {"plan_id": "ecs-std", "attrs_id_value": _attrs(a["cores"], a["disk"])},
            }
        ],
    }
    api = ctx.world.api(k)
    preview = previewed(ctx, api, "POST", "/api/v1/package-orders", body) if ctx.rng.random() < 0.4 else None
    before = ctx.world.balance(k)
    r = ctx.answered(call(api, "POST", "/api/v1/package-orders", body, key=ctx.key()), "package create")
    preview_agrees(ctx, preview, r, "cost")
    ctx.money_moved(k, before, Decimal(0), "package order created (nothing is charged before /charge)")
    if not r.ok:
        return f"refused {r.code}"
    order_id = r.data["order_id"]
    ctx.world.created[op.index] = {"order_id": order_id, "instances": exts}
    if not a.get("pay"):
        return f"created {order_id} unpaid"
    return "created; " + _charge(ctx, k, order_id, twice=bool(a.get("pay_twice")))


def _charge(ctx: Ctx, k: int, order_id: str, *, twice: bool) -> str:
    api = ctx.world.api(k)
    path = f"/api/v1/package-orders/{order_id}/charge"
    order = PackageOrder.objects.get(order_id=order_id)
    due = order.amount_payable if order.status == "unpaid" else Decimal(0)
    before = ctx.world.balance(k)
    calls = [
        lambda i=i: call(api, "POST", path, {}, key=ctx.key(f"charge{i}")) for i in range(2 if twice else 1)
    ]
    answers = [ctx.answered(r, "package charge") for r in ctx.concurrently(calls)]
    paid = any(r.ok for r in answers) and due > 0 and order.status == "unpaid"
    ctx.money_moved(
        k, before, -due if paid else Decimal(0), f"charge of {order_id}{' twice' if twice else ''}"
    )
    return f"charged {due}" if paid else f"charge answered {[r.code for r in answers]}"


def op_pkg_charge(ctx: Ctx, op: Op) -> str:
    order = _target_order(ctx, op)
    if order is None:
        return "no target"
    return _charge(ctx, op.args["account"], order.order_id, twice=op.args.get("which") == 1)


def op_pkg_cancel(ctx: Ctx, op: Op) -> str:
    order = _target_order(ctx, op)
    if order is None:
        return "no target"
    k = op.args["account"]
    before = ctx.world.balance(k)
    r = ctx.answered(
        call(ctx.world.api(k), "POST", f"/api/v1/package-orders/{order.order_id}/cancel", {}), "cancel"
    )
    ctx.money_moved(k, before, Decimal(0), f"cancel of {order.order_id}")
    return "canceled" if r.ok else f"refused {r.code}"


def op_inst_op(ctx: Ctx, op: Op) -> str:
    inst = _target_instance(ctx, op)
    if inst is None:
        return "no target"
    a = op.args
    k = a["account"]
    api = ctx.world.api(k)
    path = f"/api/v1/instances/{inst.prod_inst_id_ext}/{a['op'].replace('_', '-')}"
    preview = None
    if a["op"] in ("renew", "change_config") and ctx.rng.random() < 0.4:
        preview = previewed(ctx, api, "POST", path, _body(a))
    if a["op"] == "stop" and ctx.rng.random() < 0.3:  # no preview: refused, nothing settled
        with unchanged(ctx, f"POST {path}?drytry=1"):
            refused = ctx.answered(call(api, "POST", path, {}, query={"drytry": 1}), "stop drytry")
        ctx.expect(
            "preview_refused_where_none", refused.code == 3307, f"stop?drytry=1 answered {refused.code}"
        )
    before = ctx.world.balance(k)
    if a["op"] == "renew":
        r = ctx.answered(call(api, "POST", path, _body(a), key=ctx.key()), "renew")
        preview_agrees(ctx, preview, r, "amount_payable")
        ctx.money_moved(k, before, -_dec(r, "amount_payable"), f"renew of {inst.prod_inst_id_ext}")
    elif a["op"] == "change_config":
        r = ctx.answered(call(api, "POST", path, _body(a), key=ctx.key()), "change")
        preview_agrees(ctx, preview, r, "cost")
        ctx.money_moved(k, before, -_dec(r, "cost"), f"change-config of {inst.prod_inst_id_ext}")
    elif a["op"] == "stop":
        r = ctx.answered(call(api, "POST", path, {}, key=ctx.key()), "stop")
        if r.ok:
            after = ctx.world.balance(k)
            refunded, billed = _dec(r, "refunded"), _dec(r, "postpaid_billed")
            ctx.expect(
                "answer_matches_money",
                after - before in (refunded - billed, refunded),  # an unpaid last period is arrears
                f"stop of {inst.prod_inst_id_ext}: refunded {refunded}, billed {billed}, "
                f"moved {after - before}",
            )
    else:  # pause / resume (resume may charge the hour that has begun)
        r = ctx.answered(call(api, "POST", path, {}, key=ctx.key() if a["op"] == "resume" else None), a["op"])
        if a["op"] == "pause":
            ctx.money_moved(k, before, Decimal(0), f"pause of {inst.prod_inst_id_ext}")
    return f"{a['op']}: {'ok' if r.ok else r.code}"


def _body(a: dict[str, Any]) -> dict[str, Any]:
    if a["op"] == "renew":
        return {"duration": a["duration"]}
    infos = [{"component_id": "cpu", "attrs_id_value": [{"attr_id": "cores", "attr_value": a["cores"]}]}]
    return {"plan_id": "ecs-std", "component_infos": infos}


def _dec(resp: Resp, name: str) -> Decimal:
    if not resp.ok:
        return Decimal(0)
    return Decimal(str(resp.data.get(name) or 0))


def op_meter(ctx: Ctx, op: Op) -> str:
    """Traffic events for an instance: some repeated (same event id), some late (a period that is
    already billed, which the API rejects), in one batch."""
    inst = _target_instance(ctx, op)
    if inst is None:
        return "no target"
    a = op.args
    now = ctx.clock()
    events: list[dict[str, Any]] = []
    for i in range(a["events"]):
        ts = now - timedelta(minutes=ctx.rng.randrange(0, 50))
        if a.get("late") and i == 0:
            ts = now - timedelta(days=3)
        events.append(
            {
                "event_id": ctx.key(str(i)),
                "instance": inst.prod_inst_id_ext,
                "component_id": "traffic",
                "quantity": f"{ctx.rng.randrange(1, 5000) / 100:.2f}",
                "timestamp": ts.isoformat(),
            }
        )
    if a.get("dup"):
        events.append(dict(events[0]))
    before_rows = MeterEvent.objects.count()
    r = ctx.answered(
        call(ctx.world.api(a["account"]), "POST", "/api/v1/meter-events", {"events": events}), "meter"
    )
    if r.ok:
        accepted, dups, rejected = r.data["accepted"], r.data["duplicates"], len(r.data["rejected"])
        ctx.expect(
            "meter_events_counted",
            accepted + dups + rejected == len(events)
            and MeterEvent.objects.count() - before_rows == accepted,
            f"{len(events)} events: accepted {accepted}, duplicates {dups}, rejected {rejected}, "
            f"stored {MeterEvent.objects.count() - before_rows}",
        )
        return f"accepted {accepted}, duplicates {dups}, rejected {rejected}"
    return f"refused {r.code}"
