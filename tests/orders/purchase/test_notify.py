"""Notifications: POSTed after commit, retried on failure, never blocking or undoing a charge."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import requests

from orders.models import PurchaseOrder
from orders.purchase import notify
from orders.purchase.services import purchase_order_create
from tests.orders.purchase.helpers import T0, account_of, assert_ledger, balance, make_plan

pytestmark = pytest.mark.django_db


class FakeResponse:
    def __init__(self, status: int):
        self.status_code = status

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code}")


def test_created_notification_is_posted_after_commit(
    user, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.NOTIFY_URL = "http://hooks.invalid/tally"
    calls: list[dict[str, Any]] = []

    def fake_post(url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> FakeResponse:
        calls.append({"url": url, "json": json.loads(data), "timeout": timeout})
        return FakeResponse(200)

    monkeypatch.setattr(requests, "post", fake_post)
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = purchase_order_create(
            account=account, creator=user, region="cn-north-1", plan_id="vol-50g", at=T0
        )
        assert calls == []  # nothing before the commit
    for cb in callbacks:
        cb()
    assert len(calls) == 1
    payload = calls[0]["json"]
    assert payload["event"] == "order_created"
    assert payload["order"]["order_id"] == result.order.order_id
    assert payload["order"]["status"] == "consuming"
    assert calls[0]["timeout"] > 0


def test_no_url_is_a_logged_noop(settings):
    settings.NOTIFY_URL = ""
    assert notify.notify_send(payload={"event": "order_created", "order": {"order_id": "PO1"}}) is False


def test_failing_receiver_is_retried_and_never_undoes_the_charge(
    user, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.NOTIFY_URL = "http://hooks.invalid/tally"
    attempts: list[int] = []

    def failing_post(url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> FakeResponse:
        attempts.append(1)
        raise requests.ConnectionError("down")

    monkeypatch.setattr(requests, "post", failing_post)
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    with django_capture_on_commit_callbacks(execute=True):
        purchase_order_create(account=account, creator=user, region="cn-north-1", plan_id="vol-50g", at=T0)
    # the task asked Celery for a retry (in eager mode that surfaces as ``Retry``, which
    # ``config.enqueue.send_task`` logs); the order and the charge stay
    assert len(attempts) == 1
    assert PurchaseOrder.objects.count() == 1
    assert balance(account) == Decimal("70")
    assert_ledger(account)


def test_task_is_registered_with_retry_policy():
    from orders.purchase.tasks import notify as task

    assert task.name == "orders.notify"
    assert requests.RequestException in task.autoretry_for
    assert task.max_retries >= 3 and task.retry_backoff


def test_batch_retry_resends_only_what_was_not_delivered(settings, monkeypatch):
    """``orders.notify_batch`` (one per renewal chunk): the 3rd of 4 POSTs fails, so the retry
    carries the 3rd and 4th payloads only; the first two are not sent twice."""
    from celery.exceptions import Retry

    from orders.purchase.tasks import notify_batch

    settings.NOTIFY_URL = "http://hooks.invalid/tally"
    delivered: list[str] = []

    def flaky_post(url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> FakeResponse:
        payload = json.loads(data)
        if payload["order"]["order_id"] == "PO3" and "PO3" not in attempts:
            attempts.append("PO3")
            raise requests.ConnectionError("down")
        delivered.append(payload["order"]["order_id"])
        return FakeResponse(200)

    attempts: list[str] = []
    monkeypatch.setattr(requests, "post", flaky_post)
    retried: list[dict[str, Any]] = []

    def fake_retry(*, kwargs: dict[str, Any], countdown: float) -> Retry:
        retried.append(kwargs)
        assert 0 <= countdown <= 900
        return Retry("retry")

    monkeypatch.setattr(notify_batch, "retry", fake_retry)
    payloads = [{"event": "order_renewed", "order": {"order_id": f"PO{i}"}} for i in range(1, 5)]
    with pytest.raises(Retry):
        notify_batch.run(payloads=payloads)
    assert delivered == ["PO1", "PO2"]
    assert [p["order"]["order_id"] for p in retried[0]["payloads"]] == ["PO3", "PO4"]
    assert notify_batch.run(payloads=retried[0]["payloads"]) == 2
    assert delivered == ["PO1", "PO2", "PO3", "PO4"]
