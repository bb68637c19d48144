from __future__ import annotations

import pytest
from django.db import OperationalError, transaction

from config import db as db
from config.db import retry_on_deadlock


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr(db.time, "sleep", lambda s: None)


def flaky(failures: int, code: int = 1213):
    calls = {"n": 0}

    @retry_on_deadlock
    def work() -> str:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise OperationalError(code, "Deadlock found when trying to get lock")
        return "done"

    return work, calls


@pytest.mark.django_db(transaction=True)
def test_deadlock_is_retried_a_bounded_number_of_times():
    work, calls = flaky(2)
    assert work() == "done" and calls["n"] == 3
    work, calls = flaky(10)
    with pytest.raises(OperationalError):
        work()
    assert calls["n"] == db.MAX_ATTEMPTS


@pytest.mark.django_db(transaction=True)
def test_other_errors_and_nested_transactions_are_not_retried():
    work, calls = flaky(1, code=1205)
    with pytest.raises(OperationalError):
        work()
    assert calls["n"] == 1
    work, calls = flaky(1)
    with pytest.raises(OperationalError), transaction.atomic():
        work()  # inside the caller's transaction: the caller must see the deadlock
    assert calls["n"] == 1
