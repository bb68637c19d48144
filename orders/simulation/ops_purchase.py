"""Purchase-order steps through ``/usageapi/v1`` and the admin's cancel-with-refund action."""

from __future__ import annotations

from decimal import Decimal

from orders.models import PurchaseOrder, PurchaseOrderEvent
from orders.purchase.quote import RUNNING
from orders.simulation.context import Ctx
from orders.simulation.schedule import Op
from orders.simulation.snapshot import preview_agrees, previewed
from orders.simulation.world import Resp, call
from plans.models import BillingMode

ORDERS = "/usageapi/v1/orders"
SWITCH = {"vol-50g": "vol-100g", "vol-100g": "vol-50g", "bsi-basic": "bsi-basic-south"}


def _response_money(resp: Resp) -> Decimal:
    return Decimal(str(resp.data["money"]))


def _target_order(ctx: Ctx, op: Op) -> PurchaseOrder | None:
    """The order the step names (``ref``: created by that step), else one of the account's."""
    ref = op.args.get("ref")
    if ref is not None:
        order_id = ctx.world.created.get(ref)
        return (
            PurchaseOrder.objects.filter(order_id=order_id).select_related("plan").first()
            if order_id
            else None
        )
    orders = list(
        PurchaseOrder.objects.filter(account__namespace=ctx.world.namespace(op.args["account"]))
        .select_related("plan")
        .order_by("pk")
    )
    return orders[ctx.rng.randrange(len(orders))] if orders else None


def op_po_create(ctx: Ctx, op: Op) -> str:
    a = op.args
    k = a["account"]
    body: dict[str, object] = {"region": "cn-north-1", "plan_id": a["plan"], "quantities": a["quantities"]}
    if a.get("named"):
        body["parameters"] = {"resource_name": f"r{a['name_pick']}"}
    api = ctx.world.api(k)
    preview: Resp | None = None
    if a.get("drytry"):
        preview = previewed(ctx, api, "POST", ORDERS, body)
    before = ctx.world.balance(k)
    r = ctx.answered(call(api, "POST", ORDERS, body, key=ctx.key()), "create")
    if preview is not None:
        ctx.expect(
            "preview_matches_effect",
            not r.ok or (preview.ok and _response_money(preview) == _response_money(r)),
            f"drytry answered {preview.code} {preview.data}, the create {r.code} {r.data}",
        )
    if not r.ok:
        ctx.money_moved(k, before, Decimal(0), f"refused create ({r.code})")
        return f"refused {r.code}"
    order_id = r.data["order"]["order_id"]
    ctx.world.created[op.index] = order_id
    ctx.money_moved(k, before, -_response_money(r), f"create {order_id}")
    return f"created {a['plan']} for {_response_money(r)}"


def op_po_renew(ctx: Ctx, op: Op) -> str:
    order = _refundable(ctx, op, _target_order(ctx, op))
    if order is None:
        return "no target"
    k = op.args["account"]
    before = ctx.world.balance(k)
    r = ctx.answered(
        call(ctx.world.api(k), "PUT", f"{ORDERS}/{order.order_id}", {"action": "renew"}, key=ctx.key()),
        "renew",
    )
    ctx.money_moved(k, before, -_response_money(r) if r.ok else Decimal(0), f"renew {order.order_id}")
    return f"renewed for {_response_money(r)}" if r.ok else f"refused {r.code}"


def op_po_modify(ctx: Ctx, op: Op) -> str:
    order = _target_order(ctx, op)
    if order is None:
        return "no target"
    k = op.args["account"]
    body = {"action": "modify", "plan_id": SWITCH.get(order.plan.plan_id, "vol-50g")}
    api = ctx.world.api(k)
    path = f"{ORDERS}/{order.order_id}"
    preview = previewed(ctx, api, "PUT", path, body) if op.args.get("drytry") else None
    before = ctx.world.balance(k)
    r = ctx.answered(call(api, "PUT", path, body, key=ctx.key()), "modify")
    preview_agrees(ctx, preview, r, "money")
    preview_agrees(ctx, preview, r, "credit")
    ctx.money_moved(k, before, -_response_money(r) if r.ok else Decimal(0), f"modify {order.order_id}")
    if r.ok:
        ctx.world.created[op.index] = r.data["order"]["order_id"]
    return f"switched, net {_response_money(r)}" if r.ok else f"refused {r.code}"


def op_po_cancel(ctx: Ctx, op: Op) -> str:
    order = _refundable(ctx, op, _target_order(ctx, op))
    if order is None:
        return "no target"
    k = op.args["account"]
    before = ctx.world.balance(k)
    r = ctx.answered(
        call(ctx.world.api(k), "PUT", f"{ORDERS}/{order.order_id}", {"action": "cancel"}, key=ctx.key()),
        "cancel",
    )
    ctx.money_moved(k, before, Decimal(0), f"API cancel of {order.order_id} (no refund through the API)")
    return "canceled" if r.ok else f"refused {r.code}"


def _refundable(ctx: Ctx, op: Op, order: PurchaseOrder | None) -> PurchaseOrder | None:
    """The named order if it still runs prepaid, else the account's oldest running prepaid one:
    finance refunds unused prepaid days only, and a step aimed at an order switched or canceled
    meanwhile would leave the refund path (the one that gives money back on purpose) unwalked.
    The choice depends on the database only, so a seed still replays the same steps."""
    if order is not None and order.status in RUNNING and order.plan.billing_mode == BillingMode.PREPAID:
        return order
    running = (
        PurchaseOrder.objects.filter(
            account__namespace=ctx.world.namespace(op.args["account"]),
            status__in=RUNNING,
            plan__billing_mode=BillingMode.PREPAID,
        )
        .select_related("plan")
        .order_by("pk")
        .first()
    )
    return running or order


def op_po_admin_cancel(ctx: Ctx, op: Op) -> str:
    """Finance cancels in the admin with a refund of the unused days; the refund in the order's
    event is what the wallet must have received."""
    order = _refundable(ctx, op, _target_order(ctx, op))
    if order is None:
        return "no target"
    k = op.args["account"]
    before = ctx.world.balance(k)
    last_event = (
        PurchaseOrderEvent.objects.filter(order=order).order_by("-id").values_list("id", flat=True).first()
    )
    response = ctx.world.admin().post(
        "/admin/orders/purchaseorder/",
        {
            "action": "cancel_purchase_orders",
            "index": 0,
            "_selected_action": [order.pk],
            "tally_confirm": "1",
            "reason": "sim finance cancel",
            "refund_unused": "on",
        },
    )
    ctx.answered(Resp(response.status_code, 0, "", None), "admin cancel")
    event = PurchaseOrderEvent.objects.filter(order=order, id__gt=last_event or 0, reason="canceled").first()
    refund = Decimal(event.data.get("refund", "0")) if event else Decimal(0)
    ctx.money_moved(k, before, refund, f"admin cancel of {order.order_id}")
    return f"canceled, refunded {refund}" if event else "refused"
