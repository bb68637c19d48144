"""Calendar rules evaluated in ``TALLY_TIME_ZONE``; everything stored is UTC."""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime


def local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TALLY_TIME_ZONE)


def now() -> datetime:
    return timezone.now()


def local(dt: datetime) -> datetime:
    return dt.astimezone(local_tz())


def parse_moment(value: str | None) -> datetime:
    """An ISO 8601 date-time (or a date: its local midnight); a value without an offset is local
    time in ``TALLY_TIME_ZONE``. None or empty: now. Raises ``ValueError`` on anything else."""
    if not value:
        return timezone.now()
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        try:
            day = parse_date(value)
        except ValueError:
            day = None
        if day is None:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time")
        return datetime(day.year, day.month, day.day, tzinfo=local_tz())
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=local_tz())
    return parsed


@contextmanager
def simulated_now(at: datetime) -> Iterator[None]:
    """Within the block ``django.utils.timezone.now()`` is ``at`` plus the real time elapsed since
    the block began: every ``auto_now``/``auto_now_add`` field and every ``timezone.now()`` a
    service writes carries the simulated moment (``manage.py run_billing --at``). The clock still
    moves, so timeouts and orderings by time keep working. Process-wide: for a command, not for a
    server that serves other requests meanwhile."""
    if timezone.is_naive(at):
        raise ValueError("a simulated moment must carry its time zone")
    real = timezone.now
    started = time.monotonic()

    def simulated() -> datetime:
        return at + timedelta(seconds=time.monotonic() - started)

    timezone.now = simulated
    try:
        yield
    finally:
        timezone.now = real


def month_of(dt: datetime) -> date:
    """The first day of the local calendar month containing ``dt``."""
    d = local(dt)
    return date(d.year, d.month, 1)


def month_start_utc(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=local_tz()).astimezone(ZoneInfo("UTC"))


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def add_months_anchored(anchor: datetime, months: int) -> datetime:
    """``anchor`` plus ``months`` natural months in local time, clamped to the month's length.

    The day-of-month always comes from the anchor (the subscription's start), not from the previous
    period end, so Jan 31 -> Feb 28/29 -> Mar 31 instead of drifting to the 28th.
    """
    a = local(anchor)
    total = a.year * 12 + (a.month - 1) + months
    year, month0 = divmod(total, 12)
    day = min(a.day, calendar.monthrange(year, month0 + 1)[1])
    moved = datetime(year, month0 + 1, day, a.hour, a.minute, a.second, a.microsecond, tzinfo=local_tz())
    return moved.astimezone(ZoneInfo("UTC"))


def add_cycles(anchor: datetime, cycle: str, n: int) -> datetime:
    """The end of the ``n``-th cycle counted from ``anchor`` (``hour``, ``day``, ``month``, ``year``)."""
    if cycle == "hour":
        return anchor + timedelta(hours=n)
    if cycle == "day":
        # A day is a local calendar day: clock time stays put across a DST change.
        a = local(anchor)
        naive = a.replace(tzinfo=None) + timedelta(days=n)
        return naive.replace(tzinfo=local_tz()).astimezone(ZoneInfo("UTC"))
    if cycle == "month":
        return add_months_anchored(anchor, n)
    if cycle == "year":
        return add_months_anchored(anchor, 12 * n)
    raise ValueError(f"unknown cycle {cycle!r}")
