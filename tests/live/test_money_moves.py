"""Issue 15, verified the way users run Tally: web + worker + beat as ``make run`` starts them
(tests/live/conftest.py), then HTTP and ``manage.py`` only.

- a postpaid record goes to arrears; a signed recharge callback settles it within seconds through
  the real worker (the web process sends ``usage.settle_arrears`` by name);
- ``run_billing --at`` renews a purchase order, auto-renews a package instance, activates and
  expires a vehicle order;
- ``audit_ledger`` exits 0, and 1 after a deliberately corrupted balance.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from billing.signature import sign
from tests.live.conftest import LIVE_CALLBACK_SECRET, LiveStack

USER = "live"
CAR_BASIC_ITEMS = {  # the demo catalog's car-basic items (plans/demo_catalog.json)
    "33f5d40f-ffb2-53df-a0b7-6d31c1e86627": "1000.00",
    "3b86ddd9-4289-5aae-926c-c30df7efd4b6": "300.00",
    "a9375399-bee8-502a-a503-b344394b31a9": "200.00",
}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def balance(stack: LiveStack, token: str) -> Decimal:
    return Decimal(stack.api("GET", "/api/v1/billing/account", token=token)["balance"])


def recharge(stack: LiveStack, token: str, amount: str) -> str:
    """Create a sandbox recharge and send the provider's signed SUCCESS callback, as the provider
    would: signed with the deployment's PAYMENT_CALLBACK_SECRET."""
    created = stack.api(
        "POST",
        "/api/v1/billing/recharge",
        token=token,
        json={"amount": amount, "currency": "CNY", "payment_method": "sandbox"},
    )
    rid = created["recharge_order_id"]
    body = json.dumps(
        {"recharge_order_id": rid, "payment_id": f"PAY-{rid}", "amount": amount, "status": "SUCCESS"}
    ).encode()
    r = stack.http(
        "POST",
        "/internal/v1/billing/callback",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Tally-Signature": sign(body, secret=LIVE_CALLBACK_SECRET),
        },
    )
    assert r.status_code == 200 and r.json()["data"]["outcome"] == "credited", r.text
    return rid


def bills(stack: LiveStack, token: str, **params: str) -> list[dict[str, Any]]:
    return stack.api("GET", "/api/v1/bills", token=token, params={"size": 100, **params})["results"]


def run_billing(stack: LiveStack, at: datetime, *args: str) -> str:
    return stack.manage("run_billing", "--at", iso(at), *args).stdout


def test_money_moves_across_processes_and_time(live_stack: LiveStack, tmp_path):
    stack = live_stack
    token = stack.token(USER)
    staff = stack.token("live-ops", staff=True)

    # --- a postpaid record goes to arrears ------------------------------------------------------
    recharge(stack, token, "31.00")
    assert balance(stack, token) == Decimal("31")
    order = stack.api(
        "POST",
        "/api/v1/package-orders",
        token=token,
        json={
            "app_id": "live",
            "order_user_id": USER,
            "order_user_name": "Live",
            "description": "live stack",
            "extra_info": "{}",
            "order_product_set": [
                {
                    "prod_id": "ecs",
                    "prod_name": "Cloud server",
                    "prod_instance_ext_array": [{"id": "live-ecs-1", "is_auto_renew": 1}],
                    "plan": {
                        "plan_id": "ecs-std",
                        "attrs_id_value": [
                            {"attr_id": "cores", "attr_value": 2},
                            {"attr_id": "disk_type", "attr_value": "ssd"},
                        ],
                    },
                }
            ],
        },
    )
    package_id = order["order_id"]
    stack.api("POST", f"/api/v1/package-orders/{package_id}/charge", token=token)  # 0.50 cpu + 30 disk
    assert balance(stack, token) == Decimal("0.5")
    detail = stack.api("GET", f"/api/v1/package-orders/{package_id}", token=token)
    anchor = parse(detail["instances"][0]["subscription"]["anchor"])
    events = stack.api(
        "POST",
        "/api/v1/meter-events",
        token=token,
        json={
            "events": [
                {
                    "event_id": "traffic-1",
                    "instance": "live-ecs-1",
                    "component_id": "traffic",
                    "quantity": "10",
                    "timestamp": iso(anchor + timedelta(minutes=5)),
                }
            ]
        },
    )
    assert events["accepted"] == 1
    # the first hour has ended: the cpu's next hour takes the last 0.50, traffic 10 x 0.80 is owed
    run_billing(stack, anchor + timedelta(hours=1, minutes=2), "--only", "billing_jobs")
    (owed,) = bills(stack, token, status="arrears")
    assert (owed["component_id"], owed["amount"]) == ("traffic", "8.0000")
    assert balance(stack, token) == Decimal("0")

    # --- a recharge callback settles it through the real worker --------------------------------
    recharge(stack, token, "3000.00")
    stack.wait_for(lambda: not bills(stack, token, status="arrears"), timeout=30, what="arrears settled")
    paid = {b["id"]: b for b in bills(stack, token, status="paid")}
    assert paid[owed["id"]]["ledger_entry_id"] is not None
    assert balance(stack, token) == Decimal("2992")
    ran = [ln for ln in stack.log_text().splitlines() if "usage.settle_arrears[" in ln and "succeeded" in ln]
    assert ran, stack.log_tail()  # the worker ran the task the web process sent by name

    # --- run_billing --at: renewal, auto-renew, vehicle start and expiry ---------------------
    purchase = stack.api(
        "POST", "/usageapi/v1/orders", token=token, json={"region": "cn-north-1", "plan_id": "vol-50g"}
    )["order"]
    deadline = parse(purchase["deadline"])
    at = deadline - timedelta(hours=12)  # the purchase renewal (from -7 d) and the disk's (-1 d) are due
    vehicle = stack.api(
        "POST",
        "/api/v1/plan-orders",
        token=token,
        json={
            "vid": "2b1f0a0e-6a4c-4a32-9d0e-6f1a3c9d7e11",
            "plans": {"car-basic": CAR_BASIC_ITEMS},
            "qid": "7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a0f",
            "pmid": None,
            "service_ratio": "0.1",
            "summary": "1500.00",
            "payment": "1500.00",
            "expect_at": iso(at - timedelta(days=1)),
        },
    )
    vid = vehicle["order_id"]
    stack.api("POST", f"/api/v1/orders/{vid}/pay", token=token)
    underwritten = stack.api(
        "POST", f"/api/v1/orders/{vid}/underwrite", token=staff, json={"result": "approved"}
    )
    assert underwritten["state_code"] == 3

    preview = run_billing(stack, at, "--dry-run")
    assert preview.startswith("dry run: nothing written")
    assert (
        stack.api("GET", f"/usageapi/v1/orders/{purchase['id']}", token=token)["order"]["deadline"]
        == purchase["deadline"]
    )
    text = run_billing(stack, at)
    # the demo's orders (make run loads them) are due too: count ours through the API below
    assert "renewals            scanned" in text and "package_auto_renew  renewed" in text, text
    assert "3->4 " in text, text
    renewed = stack.api("GET", f"/usageapi/v1/orders/{purchase['id']}", token=token)["order"]
    assert parse(renewed["deadline"]) > deadline + timedelta(days=27)
    disk = [b for b in bills(stack, token, instance="live-ecs-1") if b["component_id"] == "disk"]
    assert sorted(b["kind"] for b in disk) == ["new", "renew"]
    car = stack.api("GET", f"/api/v1/orders/{vid}", token=token)
    assert car["state_code"] == 4
    run_billing(stack, parse(car["stop_at"]) + timedelta(minutes=1), "--only", "vehicle_lifecycle")
    assert stack.api("GET", f"/api/v1/orders/{vid}", token=token)["state_code"] == 5

    # --- audit_ledger: 0, then non-zero after a corrupted balance ----------------------------
    clean = stack.manage("audit_ledger", check=False)
    assert clean.returncode == 0 and "OK: no drift" in clean.stdout, clean.stdout + clean.stderr
    stack.manage(
        "shell",
        "-c",
        "from django.db.models import F; from billing.models import Account; "
        f"Account.objects.filter(namespace='{USER}').update(balance=F('balance') + 1)",
    )
    report = tmp_path / "drift.csv"
    drift = stack.manage("audit_ledger", "--fix-report", str(report), check=False)
    assert drift.returncode == 1 and "DRIFT: 1 finding(s)" in drift.stdout, drift.stdout + drift.stderr
    (row,) = csv.DictReader(report.open())
    assert (row["check"], row["namespace"]) == ("balance_mismatch", USER)
    assert Decimal(row["actual"]) - Decimal(row["expected"]) == 1
