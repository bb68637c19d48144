"""Notifications are signed like the inbound callback and carry an id that retries keep; the
receiver in docs/notifications.md, run as written, accepts a real delivery once and refuses a
forged or replayed-late one."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from billing.signature import sign
from orders.purchase import notify

DOC = Path(__file__).resolve().parents[3] / "docs" / "notifications.md"
PAYLOAD = {"event": "order_created", "time": "2026-12-01T08:00:00+00:00", "order": {"order_id": "PO1"}}


def receiver() -> Any:
    """The ``verify_tally`` function of the doc's code block, executed as written."""
    block = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/notifications.md lost its receiver example"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_tally"]


@pytest.fixture
def delivered(settings, monkeypatch) -> list[tuple[bytes, dict[str, str]]]:
    settings.NOTIFY_URL = "http://hooks.invalid/tally"
    settings.NOTIFY_SECRET = "receiver-shared-secret"
    posts: list[tuple[bytes, dict[str, str]]] = []

    class Ok:
        def raise_for_status(self) -> None:
            return None

    def post(url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> Ok:
        posts.append((data, headers))
        return Ok()

    monkeypatch.setattr(requests, "post", post)
    return posts


def test_the_documented_receiver_accepts_a_delivery_once(delivered):
    verify = receiver()
    assert notify.notify_send(payload=dict(PAYLOAD)) is True
    assert notify.notify_send(payload=dict(PAYLOAD)) is True  # a retry of the same notification
    (body, headers), (retry_body, retry_headers) = delivered
    seen: set[str] = set()
    event = verify(body, headers["X-Tally-Signature"], "receiver-shared-secret", seen)
    assert event["event"] == "order_created" and event["id"] == headers["X-Tally-Event-Id"]
    assert retry_headers["X-Tally-Event-Id"] == headers["X-Tally-Event-Id"]
    assert verify(retry_body, retry_headers["X-Tally-Signature"], "receiver-shared-secret", seen) is None


def test_the_receiver_refuses_a_forgery_a_wrong_secret_and_a_stale_signature(delivered):
    verify = receiver()
    notify.notify_send(payload=dict(PAYLOAD))
    body, headers = delivered[0]
    forged = body.replace(b"PO1", b"PO2")
    stale = sign(body, secret="receiver-shared-secret", timestamp=int(time.time()) - 600)
    for args in (
        (forged, headers["X-Tally-Signature"], "receiver-shared-secret"),
        (body, headers["X-Tally-Signature"], "another-secret"),
        (body, stale, "receiver-shared-secret"),
    ):
        with pytest.raises(PermissionError):
            verify(*args, set())


def test_two_notifications_never_share_an_id():
    later = {**PAYLOAD, "time": "2026-12-01T08:00:01+00:00"}
    assert notify.event_id(PAYLOAD) != notify.event_id(later)
    assert notify.event_id(PAYLOAD) == notify.event_id(dict(PAYLOAD))


def test_a_notify_url_without_a_secret_is_refused_when_debug_is_off():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "NOTIFY_SECRET", "TALLY_TESTING")}
    env.update(NOTIFY_URL="http://hooks.example/tally", SECRET_KEY="x" * 60, TALLY_ENV_FILE="")
    env["PAYMENT_CALLBACK_SECRET"] = "y" * 40  # only NOTIFY_SECRET is missing
    done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "check"],
        cwd=DOC.parents[1],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "NOTIFY_SECRET must be set" in done.stderr
