"""The one list of periodic jobs (``JOBS``): beat's schedule is built from it (config.schedule) and
``manage.py run_billing`` runs from it, so nothing can be in one and missing from the other.

``jobs_run(at=T)`` runs the selected jobs' task bodies in this process at the simulated moment T:
the jobs get ``at=T`` and ``django.utils.timezone.now()`` answers T (plus the time elapsed), so
every row written carries simulated times (``config.clock.simulated_now``). With ``dry_run`` all of
it happens inside one transaction that is rolled back: the same code runs, nothing is kept (no
notification or task is sent either: they are sent on commit). What each job wrote (or would
have) is read back before the rollback and returned with the job's own counts.

The runners of hourly/postpaid lines and of package auto-renew live in
``orders.billing_jobs`` (re-exported here).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max, Model
from django.utils import timezone

import billing.schedule
import ops.schedule
import orders.schedule
import plans.schedule
import usage.schedule
from billing.models import LedgerEntry, MonthlyQuota
from config.clock import local, simulated_now
from config.exceptions import InvalidInput
from config.jobs import PeriodicJob, beat_entries
from config.money import ZERO
from orders.billing_jobs import billing_jobs_run
from orders.package.auto_renew import package_auto_renew_run
from orders.package.models import PackageOrderEvent
from orders.purchase.models import PurchaseOrderEvent
from orders.vehicle.models import VehicleOrderEvent
from usage.models import UsageRecord

__all__ = [
    "JOBS",
    "JobOutcome",
    "Written",
    "beat_schedule",
    "billing_jobs_run",
    "jobs_run",
    "jobs_select",
    "package_auto_renew_run",
]

JOBS: tuple[PeriodicJob, ...] = (
    *orders.schedule.JOBS,
    *usage.schedule.JOBS,
    *billing.schedule.JOBS,
    *plans.schedule.JOBS,
    *ops.schedule.JOBS,
)
_BY_KIND = {job.kind: job for job in JOBS}
if len(_BY_KIND) != len(JOBS) or len({job.beat_name for job in JOBS}) != len(JOBS):
    raise RuntimeError("periodic jobs need unique kinds and beat names")


def beat_schedule() -> dict[str, dict[str, Any]]:
    return beat_entries(JOBS)


def jobs_select(only: Iterable[str] | None = None) -> list[PeriodicJob]:
    """The jobs named in ``only`` (in ``JOBS`` order), or every time-travel job."""
    if not only:
        return [job for job in JOBS if job.time_travel]
    names = set(only)
    unknown = sorted(names - set(_BY_KIND))
    if unknown:
        raise InvalidInput(
            f"unknown job kind(s) {', '.join(unknown)}; known: {', '.join(_BY_KIND)}",
            errors={"only": [f"unknown: {', '.join(unknown)}"]},
        )
    return [job for job in JOBS if job.kind in names]


@dataclass
class Written:
    """The rows one job wrote (or, in a dry run, would have written)."""

    entries: int = 0
    charged: Decimal = ZERO
    credited: Decimal = ZERO
    discount: Decimal = ZERO  # promotions took this off the records' gross (their ``discount``)
    records: Counter[str] = field(default_factory=Counter)  # by status
    events: int = 0
    quota_rows: int = 0
    lines: list[str] = field(default_factory=list)  # the first rows, one line each
    more: int = 0  # rows not in ``lines``

    @property
    def empty(self) -> bool:
        return not (self.entries or self.records or self.events or self.quota_rows)


@dataclass
class JobOutcome:
    kind: str
    about: str
    result: Any  # what the task returned
    seconds: float
    written: Written


_TRACKED: tuple[type[Model], ...] = (
    LedgerEntry,
    UsageRecord,
    PurchaseOrderEvent,
    PackageOrderEvent,
    VehicleOrderEvent,
    MonthlyQuota,
)


def jobs_run(
    *,
    at: datetime,
    only: Sequence[str] | None = None,
    dry_run: bool = False,
    chunk_size: int | None = None,
    detail: int = 20,
    progress: Callable[[JobOutcome], None] | None = None,
) -> list[JobOutcome]:
    """Run the selected jobs once at ``at`` (see the module docstring); ``detail`` rows of each
    job are described in ``Written.lines``."""
    selected = jobs_select(only)
    outcomes: list[JobOutcome] = []
    with simulated_now(at):
        if dry_run:
            with transaction.atomic():
                for job in selected:
                    outcomes.append(_run_one(job, at=at, chunk_size=chunk_size, detail=detail))
                    if progress:
                        progress(outcomes[-1])
                transaction.set_rollback(True)
        else:
            for job in selected:
                outcomes.append(_run_one(job, at=at, chunk_size=chunk_size, detail=detail))
                if progress:
                    progress(outcomes[-1])
    return outcomes


def _marks() -> dict[type[Model], int]:
    return {model: model._default_manager.aggregate(m=Max("pk"))["m"] or 0 for model in _TRACKED}


def _run_one(job: PeriodicJob, *, at: datetime, chunk_size: int | None, detail: int) -> JobOutcome:
    marks = _marks()
    started = time.monotonic()
    result = job.run(at=at, chunk_size=chunk_size)
    seconds = time.monotonic() - started
    return JobOutcome(
        kind=job.kind,
        about=job.about,
        result=result,
        seconds=seconds,
        written=_written(marks, since=at, detail=detail),
    )


def _new(model: type[Model], marks: dict[type[Model], int], time_field: str, since: datetime) -> Any:
    """Rows of ``model`` created after ``marks`` and stamped in [since, now] (simulated clock):
    rows other writers commit meanwhile carry the real time and stay out under ``--at``."""
    return model._default_manager.filter(
        pk__gt=marks[model], **{f"{time_field}__gte": since, f"{time_field}__lte": timezone.now()}
    ).order_by("pk")


def _written(marks: dict[type[Model], int], *, since: datetime, detail: int) -> Written:
    w = Written()
    lines: list[str] = []
    for e in _new(LedgerEntry, marks, "created_at", since).select_related("account").iterator():
        w.entries += 1
        if e.amount < 0:
            w.charged += -e.amount
        else:
            w.credited += e.amount
        lines.append(f"{e.kind} {e.account.namespace} {e.amount} for {e.subject_type} {e.subject_id}")
    for r in _new(UsageRecord, marks, "created_at", since).iterator():
        w.records[r.status] += 1
        w.discount += r.discount
        if r.discount:
            lines.append(f"discount {r.discount} on {r.kind} record(s) of {r.order_ref}")
        if r.status != "paid":  # a paid one is a charge listed above
            lines.append(f"{r.status} usage record {r.order_ref} {r.kind} {_when(r.period_start)} {r.amount}")
    for ev in _new(PurchaseOrderEvent, marks, "time", since).select_related("order").iterator():
        w.events += 1
        before = "-" if ev.from_status is None else ev.get_from_status_display()
        lines.append(
            f"purchase order {ev.order.order_id}: {before} -> {ev.get_to_status_display()} ({ev.reason})"
        )
    for pev in _new(PackageOrderEvent, marks, "at", since).select_related("order").iterator():
        w.events += 1
        lines.append(f"package order {pev.order.order_id}: {pev.reason} {pev.from_status} -> {pev.to_status}")
    for vev in _new(VehicleOrderEvent, marks, "occurred_at", since).select_related("order").iterator():
        w.events += 1
        before = "-" if vev.from_state is None else vev.get_from_state_display()
        lines.append(f"vehicle order {vev.order.order_no}: {before} -> {vev.get_to_state_display()}")
    w.quota_rows = _new(MonthlyQuota, marks, "created_at", since).count()
    if w.quota_rows:
        lines.append(f"{w.quota_rows} monthly quota row(s)")
    grouped = _grouped(lines)
    w.lines, w.more = grouped[:detail], max(0, len(grouped) - detail)
    return w


def _grouped(lines: list[str]) -> list[str]:
    """Equal lines once, with how many (48 hourly charges of one order are one line)."""
    counts = Counter(lines)
    return [line if counts[line] == 1 else f"{counts[line]} x {line}" for line in dict.fromkeys(lines)]


def _when(moment: datetime) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M")
