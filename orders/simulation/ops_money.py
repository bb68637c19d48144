"""Steps that move wallet money directly: recharges and their callbacks, batch recharges, manual
adjustments, deduct-quota bursts. Each goes through the path a user or a provider takes (HTTP, the
admin, ``call_command``) and checks that what the answer says moved is what the ledger moved."""

from __future__ import annotations

import json
import tempfile
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from billing.models import RechargeOrder
from billing.signature import HEADER, sign
from orders.simulation.context import Ctx
from orders.simulation.schedule import Op
from orders.simulation.snapshot import unchanged
from orders.simulation.world import Resp, Sink, call

CALLBACK = "/internal/v1/billing/callback"


def _callback(ctx: Ctx, rid: str, amount: str, status: str, *, tamper: bool = False) -> Resp:
    """The provider's signed callback, retried (as providers do) while it answers 5xx."""
    body = json.dumps(
        {"recharge_order_id": rid, "payment_id": f"SBX-{rid}", "amount": amount, "status": status}
    ).encode()
    header = sign(body)
    if tamper:
        header = header[:-4] + ("0000" if not header.endswith("0000") else "1111")
    resp = Resp(0, -1, "", None)
    for _ in range(4):
        resp = ctx.answered(
            call(APIClient(), "POST", CALLBACK, raw=body, headers={HEADER: header}), "callback"
        )
        if resp.status < 500:
            break
    return resp


def op_recharge(ctx: Ctx, op: Op) -> str:
    a = op.args
    k, amount, mode = a["account"], a["amount"], a["mode"]
    r = ctx.answered(
        call(
            ctx.world.api(k),
            "POST",
            "/api/v1/billing/recharge",
            {"amount": amount, "payment_method": "sandbox", "currency": settings.TALLY_CURRENCY},
            key=ctx.key(),
        ),
        "recharge",
    )
    if not r.ok:
        return f"refused {r.code}"
    rid = r.data["recharge_order_id"]
    ctx.world.created[op.index] = rid
    before = ctx.world.balance(k)
    expected = Decimal(amount)
    if mode == "ok":
        _callback(ctx, rid, amount, "SUCCESS")
    elif mode == "dup":
        calls = [lambda: _callback(ctx, rid, amount, "SUCCESS") for _ in range(3)]
        if a.get("concurrent"):
            ctx.concurrently(calls)
        else:
            for c in calls:
                c()
    elif mode == "failed_then_ok":
        _callback(ctx, rid, amount, "FAILED")
        _callback(ctx, rid, amount, "SUCCESS")
    elif mode == "ok_then_failed":
        _callback(ctx, rid, amount, "SUCCESS")
        _callback(ctx, rid, amount, "FAILED")
    elif mode == "wrong_amount":
        wrong = str(Decimal(amount) + Decimal("1.00"))
        answer = _callback(ctx, rid, wrong, "SUCCESS")
        ctx.expect(
            "callback_mismatch_refused", not answer.ok, f"a callback for {wrong} of {amount} was accepted"
        )
        expected = Decimal(amount) if a.get("approve") else Decimal(0)
        _review(ctx, rid, approve=bool(a.get("approve")))
    elif mode == "tampered":
        answer = _callback(ctx, rid, amount, "SUCCESS", tamper=True)
        ctx.expect(
            "callback_signature_checked", answer.status == 401, f"a tampered callback got {answer.status}"
        )
        expected = Decimal(0)
    else:  # abandoned: the user never pays
        expected = Decimal(0)
    ctx.money_moved(k, before, expected, f"recharge {rid} ({mode})")
    return f"{mode}: credited {expected}"


def _review(ctx: Ctx, rid: str, *, approve: bool) -> None:
    """Finance resolves the review in the admin (the reason action)."""
    order = RechargeOrder.objects.get(public_id=rid)
    action = "approve_reviewed_recharges" if approve else "reject_reviewed_recharges"
    response = ctx.world.admin().post(
        "/admin/billing/rechargeorder/",
        {"action": action, "index": 0, "_selected_action": [order.pk], "tally_confirm": "1", "reason": "sim"},
    )
    ctx.answered(Resp(response.status_code, 0, "", None), "admin review")
    order.refresh_from_db()
    want = "success" if approve else "failed"
    ctx.expect(
        "review_resolved", order.status == want, f"recharge {rid} is {order.status} after review, not {want}"
    )


def op_batch_recharge(ctx: Ctx, op: Op) -> str:
    a = op.args
    lines: list[tuple[str, str, str]] = []
    expected: dict[int, Decimal] = {}
    for i, (k, amount) in enumerate(a["lines"]):
        lines.append((ctx.world.namespace(k), amount, ctx.key(f"line{i}")))
        expected[k] = expected.get(k, Decimal(0)) + Decimal(amount)
    if a.get("bad"):
        lines.append(("nobody-" + ctx.key(), "10.00", ctx.key("bad1")))
        lines.append((ctx.world.namespace(0), "12.345678", ctx.key("bad2")))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.csv"
        path.write_text("namespace,amount,reference\n" + "".join(f"{n},{m},{r}\n" for n, m, r in lines))
        befores = {k: ctx.world.balance(k) for k in expected}
        with unchanged(ctx, "batch_recharge --dry-run"):
            _batch(str(path), dry_run=True)
        for _ in range(2 if a.get("rerun") else 1):
            _batch(str(path), dry_run=False)
    for k, money in expected.items():
        ctx.money_moved(k, befores[k], money, "batch recharge")
    return f"{len(a['lines'])} line(s)"


def _batch(path: str, *, dry_run: bool) -> None:
    try:
        call_command("batch_recharge", path, dry_run=dry_run, stdout=Sink(), stderr=Sink())
    except CommandError:  # exit status 1: some lines were rejected (on purpose); valid ones applied
        pass


def op_adjust(ctx: Ctx, op: Op) -> str:
    """A finance user adjusts a balance in the admin; a double submit of the form changes nothing."""
    k, amount = op.args["account"], Decimal(op.args["amount"])
    account_id = ctx.world.account_id(k)
    before = ctx.world.balance(k)
    form = {"amount": str(amount), "reason": "sim adjustment", "token": ctx.key()}
    for _ in range(2):
        response = ctx.world.admin().post(f"/admin/billing/account/{account_id}/adjust/", form)
        ctx.answered(Resp(response.status_code, 0, "", None), "admin adjust")
    expected = amount if before + amount >= 0 else Decimal(0)
    ctx.money_moved(k, before, expected, "admin adjustment (submitted twice)")
    return f"adjusted {expected}"


def op_deduct_burst(ctx: Ctx, op: Op) -> str:
    """A burst of metered calls through the internal API (in threads on MariaDB), then repeats of
    some request ids, which must be answered as replays and move nothing."""
    a = op.args
    k = a["account"]
    ns = ctx.world.namespace(k)
    api = ctx.world.service_api
    path = "/internal/v1/billing/deduct-quota"
    bodies = [
        {"namespace": ns, "service": a["service"], "count": count, "request_id": ctx.key(str(i))}
        for i, count in enumerate(a["calls"])
    ]
    with unchanged(ctx, "check-quota"):
        check = {"namespace": ns, "service": a["service"], "count": a["calls"][0]}
        ctx.answered(call(api(), "POST", "/internal/v1/billing/check-quota", check), "check-quota")
    before = ctx.world.balance(k)
    answers = ctx.concurrently([lambda b=b: call(api(), "POST", path, b) for b in bodies])
    for answer in answers:
        ctx.answered(answer, "deduct-quota")
    charged = sum((Decimal(r.data["amount"]) for r in answers if r.ok and not r.data["replayed"]), Decimal(0))
    ctx.money_moved(k, before, -charged, "deduct-quota burst")
    every = int(a.get("dup_every") or 0)
    if every:
        before = ctx.world.balance(k)
        for body, first in list(zip(bodies, answers, strict=True))[::every]:
            again = ctx.answered(call(api(), "POST", path, body), "deduct-quota repeated")
            if first.ok:
                ctx.expect(
                    "deduct_replayed",
                    again.ok
                    and bool(again.data["replayed"])
                    and again.data["amount"] == first.data["amount"],
                    f"request {body['request_id']} repeated: {again.data}",
                )
        ctx.money_moved(k, before, Decimal(0), "repeated deduct-quota request ids")
    return f"{len(bodies)} calls, {charged} charged"
