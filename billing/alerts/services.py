"""Writes of the alerts: an account's thresholds, and the evaluator beat runs.

``balance_alerts_evaluate`` walks the accounts in primary-key chunks (``BILLING_CHUNK_SIZE``). Per
chunk: one read of balances and thresholds (a LEFT JOIN), one call of the burn provider for the
whole chunk, one ``INSERT IGNORE`` of the state rows that are missing for accounts under a
threshold; then one short transaction that locks the chunk's state rows
``FOR UPDATE SKIP LOCKED`` (rows another evaluator holds are its work), re-reads those accounts'
balances, marks the crossings (``fired_at``) and re-arms the recovered, and enqueues the chunk's
notifications as one ``orders.notify_batch`` task by name on commit. Two evaluators at once send
each crossing once: the row is either skipped (held by the other) or seen already fired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.alerts import hooks
from billing.alerts.models import AlertKind, AlertState, AlertThreshold
from billing.alerts.rules import Thresholds, is_under, runway_days, thresholds_in_force
from billing.models import Account
from config.enqueue import enqueue_on_commit
from config.exceptions import InvalidInput
from config.money import to_money

NOTIFY_TASK = "orders.notify_batch"
KINDS = (AlertKind.BALANCE_LOW, AlertKind.RUNWAY_LOW)
MAX_RUNWAY_DAYS = 3650
MAX_BALANCE_BELOW = Decimal("100000000")
UNSET: Any = object()


def alert_thresholds_set(
    *, account: Account, balance_below: Decimal | None = UNSET, runway_below_days: int | None = UNSET
) -> AlertThreshold:
    """Set either or both thresholds of a saved account (``None``: the deployment default, ``0``:
    off; a field left out keeps its value). One row per account (``update_or_create`` on the
    unique account)."""
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    if balance_below is not UNSET:
        if balance_below is not None:
            value = Decimal(balance_below)
            if not value.is_finite() or value < 0 or value > MAX_BALANCE_BELOW or value != to_money(value):
                errors["balance_below"] = [
                    f"a number 0..{MAX_BALANCE_BELOW} with at most 4 decimals, or null"
                ]
            balance_below = value
        changes["balance_below"] = balance_below
    if runway_below_days is not UNSET:
        if runway_below_days is not None and (
            isinstance(runway_below_days, bool)
            or not isinstance(runway_below_days, int)
            or not 0 <= runway_below_days <= MAX_RUNWAY_DAYS
        ):
            errors["runway_below_days"] = [f"a whole number of days 0..{MAX_RUNWAY_DAYS}, or null"]
        changes["runway_below_days"] = runway_below_days
    if errors:
        raise InvalidInput("invalid alert thresholds", errors=errors)
    row, _ = AlertThreshold.objects.update_or_create(account_id=account.pk, defaults=changes)
    return row


@dataclass
class AlertRun:
    accounts: int = 0
    sent: dict[str, int] = field(default_factory=lambda: {kind: 0 for kind in KINDS})
    rearmed: int = 0
    skipped_locked: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            **{f"{k}_sent": n for k, n in self.sent.items()},
            "rearmed": self.rearmed,
            "skipped_locked": self.skipped_locked,
        }


@dataclass(frozen=True)
class _Snapshot:
    namespace: str
    currency: str
    balance: Decimal
    per_day: Decimal
    thresholds: Thresholds


def balance_alerts_evaluate(*, at: datetime | None = None, chunk_size: int | None = None) -> AlertRun:
    """Evaluate every account's thresholds at ``at`` (default now); see the module docstring."""
    at = at or timezone.now()
    size = max(1, chunk_size or settings.BILLING_CHUNK_SIZE)
    run = AlertRun()
    last = 0
    while True:
        ids = list(Account.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return run
        last = ids[-1]
        run.accounts += len(ids)
        _evaluate_chunk(ids, at=at, run=run)


def _snapshots(ids: Sequence[int], at: datetime) -> dict[int, _Snapshot]:
    rows = Account.objects.filter(pk__in=ids).values_list(
        "pk",
        "namespace",
        "currency",
        "balance",
        "alert_threshold__balance_below",
        "alert_threshold__runway_below_days",
    )
    burn = hooks.burn_per_day(list(ids), at)
    return {
        pk: _Snapshot(
            namespace=ns,
            currency=currency,
            balance=balance,
            per_day=to_money(burn.get(pk, Decimal(0))),
            thresholds=thresholds_in_force(balance_below=below, runway_below_days=days),
        )
        for pk, ns, currency, balance, below, days in rows
    }


def _evaluate_chunk(ids: Sequence[int], *, at: datetime, run: AlertRun) -> None:
    snaps = _snapshots(ids, at)
    under = [
        AlertState(account_id=pk, kind=kind)
        for pk, s in snaps.items()
        for kind in KINDS
        if is_under(kind, thresholds=s.thresholds, balance=s.balance, per_day=s.per_day)
    ]
    AlertState.objects.bulk_create(under, ignore_conflicts=True)  # the rows to lock; no-op if there
    with transaction.atomic():
        states = list(
            AlertState.objects.select_for_update(skip_locked=True).filter(account_id__in=ids).order_by("pk")
        )
        expected = AlertState.objects.filter(account_id__in=ids).count()
        run.skipped_locked += max(0, expected - len(states))
        fresh = dict(
            Account.objects.filter(pk__in={s.account_id for s in states}).values_list("pk", "balance")
        )
        fired: list[AlertState] = []
        rearmed: list[AlertState] = []
        for state in states:
            snap = snaps[state.account_id]
            balance = fresh.get(state.account_id, snap.balance)
            low = is_under(state.kind, thresholds=snap.thresholds, balance=balance, per_day=snap.per_day)
            if low and state.fired_at is None:
                state.fired_at = at
                state.balance = balance
                state.runway_days = runway_days(balance=balance, per_day=snap.per_day)
                state.threshold = snap.thresholds.value(state.kind)
                state.crossings += 1
                fired.append(state)
            elif not low and state.fired_at is not None:
                state.fired_at = None
                state.rearmed_at = at
                rearmed.append(state)
        if fired:
            AlertState.objects.bulk_update(
                fired, ["fired_at", "balance", "runway_days", "threshold", "crossings"]
            )
            payloads = [alert_payload(state, snaps[state.account_id]) for state in fired]
            enqueue_on_commit(NOTIFY_TASK, payloads=payloads)
        if rearmed:
            AlertState.objects.bulk_update(rearmed, ["fired_at", "rearmed_at"])
    for state in fired:
        run.sent[state.kind] += 1
    run.rearmed += len(rearmed)


def alert_payload(state: AlertState, snap: _Snapshot) -> dict[str, Any]:
    """The notification (docs/notifications.md): the account's figures when it crossed."""
    threshold: dict[str, str | int | None]
    if state.kind == AlertKind.BALANCE_LOW:
        threshold = {"balance_below": str(snap.thresholds.balance_below)}
    else:
        threshold = {"runway_below_days": snap.thresholds.runway_below_days}
    return {
        "event": state.kind,
        "time": timezone.now().isoformat(),
        "subject": snap.namespace,
        "account": {
            "namespace": snap.namespace,
            "currency": snap.currency,
            "balance": str(state.balance),
            "burn_per_day": str(snap.per_day),
            "runway_days": None if state.runway_days is None else str(state.runway_days),
        },
        "threshold": threshold,
        "crossing": state.crossings,
        "data": {},
    }
