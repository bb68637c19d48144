"""The period a back-office page reports on: this month, last month, or custom dates (local days of
``TALLY_TIME_ZONE``, the end day included). ``[start, end)`` are exact local midnights in UTC-aware
datetimes, the same bounds the usage report takes, so totals on the dashboard and in the reports
agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from config.clock import local, local_tz, next_month
from config.clock import now as clock_now

CHOICES = (("this_month", "This month"), ("last_month", "Last month"), ("custom", "Custom"))
MAX_DAYS = 92


@dataclass(frozen=True)
class ReportPeriod:
    choice: str
    first_day: date  # local, included
    last_day: date  # local, included
    error: str = ""

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=local_tz())

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=local_tz())

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]

    @property
    def label(self) -> str:
        if self.first_day.day == 1 and self.last_day + timedelta(days=1) == next_month(self.first_day):
            return f"{self.first_day:%B %Y}"
        return f"{self.first_day:%Y-%m-%d} – {self.last_day:%Y-%m-%d}"


def _day(raw: Any) -> date | None:
    try:
        return date.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def report_period(params: Any, *, today: date | None = None) -> ReportPeriod:
    """From ``?period=this_month|last_month|custom&from=YYYY-MM-DD&to=YYYY-MM-DD``. This month runs
    to today (a month in progress); a bad custom range falls back to this month with an error."""
    today = today or local(clock_now()).date()
    this_month = today.replace(day=1)
    choice = params.get("period") or "this_month"
    if choice == "last_month":
        last = this_month - timedelta(days=1)
        return ReportPeriod("last_month", last.replace(day=1), last)
    if choice == "custom":
        start, stop = _day(params.get("from")), _day(params.get("to"))
        if start is None or stop is None:
            error = "custom period: from and to must be dates (YYYY-MM-DD)"
        elif stop < start:
            error = "custom period: to must not be before from"
        elif (stop - start).days >= MAX_DAYS:
            error = f"custom period: at most {MAX_DAYS} days"
        else:
            return ReportPeriod("custom", start, stop)
        return ReportPeriod("this_month", this_month, today, error=error)
    return ReportPeriod("this_month", this_month, today)
