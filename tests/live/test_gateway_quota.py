"""Issue 21.2, verified the way it runs: the gateway's login from ``create_api_user --group
Gateway``, then check-quota and deduct-quota over HTTP against ``make run``'s server, and a
recharge from a second terminal (``manage.py batch_recharge``, another process).

- check-quota answers at once what a deduct in the server just changed (the deduct retires the
  cached entry on commit);
- after a recharge made by another process, deduct-quota (the authority) takes the money at once,
  and check-quota agrees within ``BILLING_CHECK_CACHE_SECONDS`` (2 s; the stack's cache is each
  process's memory, so only the expiry reaches the server: docs/billing.md "check-quota cache").
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from tests.live.conftest import LiveStack

CHECK_CACHE_SECONDS = 2.0


def call(stack: LiveStack, token: str, endpoint: str, **body: object) -> dict:
    r = stack.http("POST", f"/internal/v1/billing/{endpoint}", token=token, json=body)
    assert r.status_code < 500, r.text
    return r.json()


def test_check_quota_follows_deductions_and_a_recharge_from_a_second_terminal(
    live_stack: LiveStack, tmp_path: Path
) -> None:
    stack = live_stack
    stack.token("cq-tenant")  # creates the tenant's account "cq-tenant" with a zero balance
    gateway = stack.token("cq-gateway-svc")
    stack.manage("create_api_user", "cq-gateway-svc", "--group", "Gateway")
    base = {"namespace": "cq-tenant", "service": "payment"}

    first = call(stack, gateway, "check-quota", **base, count=1000)
    assert first["data"] == {"allowed": True, "reason": "free"}
    used = call(stack, gateway, "deduct-quota", **base, count=1000, request_id="cq-free")
    assert used["code"] == 0 and used["data"]["free_count"] == 1000
    # the deduct in the server cleared the entry the first check left: refused at once
    refused = call(stack, gateway, "check-quota", **base, count=1)
    assert refused["data"] == {"allowed": False, "reason": "insufficient balance"}
    short = call(stack, gateway, "deduct-quota", **base, count=1, request_id="cq-short")
    assert short["code"] == 190102, short  # insufficient balance

    csv_file = tmp_path / "topup.csv"
    csv_file.write_text("namespace,amount,reference\ncq-tenant,1.00,cq-topup-1\n", encoding="utf-8")
    recharged_at = time.monotonic()
    stack.manage("batch_recharge", str(csv_file))
    paid = call(stack, gateway, "deduct-quota", **base, count=1, request_id="cq-paid")
    assert paid["code"] == 0, paid
    assert Decimal(paid["data"]["amount"]) == Decimal("0.10")

    allowed = stack.wait_for(
        lambda: call(stack, gateway, "check-quota", **base, count=9)["data"]["allowed"] or None,
        timeout=10,
        what="check-quota to see the recharge",
    )
    assert allowed is True
    assert time.monotonic() - recharged_at <= CHECK_CACHE_SECONDS + 5  # the expiry, plus the command's run
    # 0.90 left: ten calls no longer fit
    assert call(stack, gateway, "check-quota", **base, count=10)["data"]["allowed"] is False
