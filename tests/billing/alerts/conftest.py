"""Alert tests: a burn rate set per account (``burn``), and the notifications sent (``sent``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from billing.alerts import hooks


class Burn(dict[int, Decimal]):
    """``burn[account_id] = Decimal("10")``: that account spends 10 a day (the provider orders
    registers is tested on its own, with real subscriptions)."""

    def __call__(self, account_ids: Sequence[int], at: datetime) -> Mapping[int, Decimal]:
        return {pk: self[pk] for pk in account_ids if pk in self}


@pytest.fixture
def burn(monkeypatch: pytest.MonkeyPatch) -> Burn:
    fake = Burn()
    monkeypatch.setattr(hooks, "_provider", [fake])
    return fake


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every task sent by name (``config.enqueue.send_task``), in order; nothing really sent."""
    calls: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def record(task_name: str, kwargs: dict[str, Any]) -> bool:
        with lock:
            calls.append((task_name, kwargs))
        return True

    monkeypatch.setattr("config.enqueue.send_task", record)
    return calls


def payloads(sent: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [p for name, kw in sent if name == "orders.notify_batch" for p in kw["payloads"]]


@pytest.fixture
def evaluate(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    from billing.alerts.services import balance_alerts_evaluate

    def run(**kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return balance_alerts_evaluate(**kwargs)

    return run
