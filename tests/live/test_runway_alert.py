"""Issue 20 part 2, the way users run Tally (web + worker + beat as ``make run`` starts them): a
purchase leaves a wallet with less than ``RUNWAY_ALERT_DAYS`` of runway, beat's
``billing.evaluate_balance_alerts`` notices it, and the worker POSTs one ``runway_low``
notification to a local HTTP receiver, signed with ``NOTIFY_SECRET``: the receiver of
docs/notifications.md, run as written, accepts it. It is not sent again while the wallet stays
under the threshold.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import LiveStack, free_port, start_live_stack
from tests.live.test_money_moves import balance, recharge

DOC = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"
SECRET = "live-notify-secret"
USER = "runway"


class Receiver(ThreadingHTTPServer):
    def __init__(self, port: int) -> None:
        self.posts: list[tuple[bytes, dict[str, str]]] = []
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:  # noqa: N802, N805 - http.server's names
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                with self.lock:
                    self.posts.append((body, dict(handler.headers.items())))
                handler.send_response(204)
                handler.end_headers()

            def log_message(handler, *args: Any) -> None:  # noqa: N805
                return None

        super().__init__(("127.0.0.1", port), Handler)

    def events(self, name: str, subject: str) -> list[tuple[bytes, dict[str, str]]]:
        with self.lock:
            return [
                (b, h)
                for b, h in self.posts
                if (e := json.loads(b))["event"] == name and e.get("subject") == subject
            ]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def stack(receiver: Receiver) -> Iterator[LiveStack]:
    url = f"http://127.0.0.1:{receiver.server_address[1]}/tally"
    with start_live_stack(
        NOTIFY_URL=url, NOTIFY_SECRET=SECRET, RUNWAY_ALERT_DAYS="7", BALANCE_ALERTS_EVERY_SECONDS="2"
    ) as live:
        yield live


def documented_receiver() -> Any:
    block = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/notifications.md lost its receiver example"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_tally"]


def test_a_runway_alert_reaches_the_receiver_signed_once(stack: LiveStack, receiver: Receiver):
    token = stack.token(USER)
    recharge(stack, token, "11.00")
    # the demo's vol-50g: 10 for a month. 1 left at ~0.33 a day is ~3 days, under the default 7.
    purchase = stack.api(
        "POST", "/usageapi/v1/orders", token=token, json={"region": "cn-north-1", "plan_id": "vol-50g"}
    )
    assert purchase["order"]["plan_id"] == "vol-50g"
    assert balance(stack, token) == Decimal("1")
    wallet = stack.api("GET", "/api/v1/billing/account", token=token)
    assert wallet["thresholds"]["runway_below_days"] == 7
    per_day = Decimal(wallet["burn_per_day"])
    assert Decimal("10") / 32 < per_day < Decimal("10") / 27, wallet  # a month of 28..31 days
    assert Decimal(wallet["runway_days"]) == (Decimal(1) / per_day).quantize(Decimal("0.01"), "ROUND_DOWN")

    [(body, headers)] = stack.wait_for(
        lambda: receiver.events("runway_low", USER), timeout=60, what="runway_low delivered"
    )
    seen: set[str] = set()
    event = documented_receiver()(body, headers["X-Tally-Signature"], SECRET, seen)
    assert event is not None and event["id"] == headers["X-Tally-Event-Id"]
    assert event["account"]["balance"] == "1.0000"
    assert event["account"]["burn_per_day"] == wallet["burn_per_day"]
    assert event["account"]["runway_days"] == wallet["runway_days"]
    assert event["threshold"] == {"runway_below_days": 7}
    with pytest.raises(PermissionError):  # a wrong secret is refused
        documented_receiver()(body, headers["X-Tally-Signature"], "not-the-secret", set())

    # beat keeps evaluating every 2 s: still under the threshold, nothing more is sent
    ran_before = stack.log_text().count("billing.evaluate_balance_alerts[")
    stack.wait_for(
        lambda: stack.log_text().count("billing.evaluate_balance_alerts[") >= ran_before + 4,
        timeout=60,
        what="two more evaluations",
    )
    assert len(receiver.events("runway_low", USER)) == 1
    states = stack.api("GET", "/api/v1/billing/alerts", token=token)["states"]
    assert [(s["kind"], s["crossings"]) for s in states] == [("runway_low", 1)]
    assert datetime.fromisoformat(states[0]["fired_at"].replace("Z", "+00:00")).timestamp() <= time.time()
