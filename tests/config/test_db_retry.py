from __future__ import annotations

import pytest
from django.db import OperationalError, transaction

from config import db as db
from config.db import retry_on_conflict
from config.exceptions import DomainError, InsufficientFunds
from plans.errors import PriceChangedDuringCharge


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr(db.time, "sleep", lambda s: None)


def flaky(failures: int, code: int = 1213):
    calls = {"n": 0}

    @retry_on_conflict
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


def failing_with(error: type[DomainError], failures: int):
    calls = {"n": 0}

    @retry_on_conflict
    def work() -> str:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise error("stale read")
        return "done"

    return work, calls


@pytest.mark.django_db(transaction=True)
def test_a_transient_domain_error_is_retried_and_any_other_is_not():
    work, calls = failing_with(PriceChangedDuringCharge, 1)
    assert work() == "done" and calls["n"] == 2
    work, calls = failing_with(PriceChangedDuringCharge, 10)
    with pytest.raises(PriceChangedDuringCharge):
        work()
    assert calls["n"] == db.MAX_ATTEMPTS
    work, calls = failing_with(InsufficientFunds, 1)
    with pytest.raises(InsufficientFunds):
        work()
    assert calls["n"] == 1
