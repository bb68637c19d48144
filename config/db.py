"""Bounded retry of a whole money transaction that lost to another writer.

Two kinds of loss: MariaDB picks the transaction as a deadlock victim (error 1213), or a service
finds another writer's commit made its reads stale and raises a ``DomainError`` marked
``transient`` (a price edited between a charge's pricing read and its record insert,
``plans.errors.PriceChangedDuringCharge``). Either way nothing of the transaction is left, so
re-running the function from the start is safe, but only when *we* own the outermost transaction:
inside a caller's ``atomic()`` the caller's work is gone too, so the error must reach the caller.
Retrying here, in the service, keeps these from ever surfacing to API clients (QUALITY.md R1).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection

from config.exceptions import DomainError

logger = logging.getLogger("tally.db")

P = ParamSpec("P")
R = TypeVar("R")

DEADLOCK_ERRORS = {1213}  # ER_LOCK_DEADLOCK
MAX_ATTEMPTS = 4


def is_deadlock(exc: BaseException) -> bool:
    args = getattr(exc, "args", ())
    return bool(args) and args[0] in DEADLOCK_ERRORS


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DomainError):
        return exc.transient
    return is_deadlock(exc)


def retry_on_conflict(func: Callable[P, R]) -> Callable[P, R]:
    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            return func(*args, **kwargs)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except (OperationalError, DomainError) as exc:
                if not is_transient(exc) or attempt == MAX_ATTEMPTS:
                    raise
                logger.warning("%s in %s, retry %d", type(exc).__name__, func.__name__, attempt)
                time.sleep(random.uniform(0.005, 0.03) * attempt)  # noqa: S311 - jitter, not crypto
        raise AssertionError("unreachable")

    return wrapper
