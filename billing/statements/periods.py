"""A statement period: one calendar month of ``TALLY_TIME_ZONE`` as a [start, end) range in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from billing.errors import BillingInvalidInput
from config import clock

PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    month: date  # the first day of the local month

    @property
    def start(self) -> datetime:
        return clock.month_start_utc(self.month)

    @property
    def end(self) -> datetime:
        return clock.month_start_utc(clock.next_month(self.month))

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"

    def previous(self) -> Period:
        m = self.month
        return Period(date(m.year - (m.month == 1), (m.month - 2) % 12 + 1, 1))

    def is_closed(self, at: datetime | None = None) -> bool:
        return self.end <= (at or clock.now())

    def __str__(self) -> str:
        return self.label


def parse_period(raw: object, *, field: str = "period") -> Period:
    """``YYYY-MM`` -> ``Period``; anything else is a 400 naming the field."""
    match = PERIOD_RE.match(raw) if isinstance(raw, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise BillingInvalidInput(f"{field} must be YYYY-MM", errors={field: ["must be YYYY-MM (a month)"]})
    return Period(date(int(match.group(1)), int(match.group(2)), 1))


def period_of(at: datetime) -> Period:
    return Period(clock.month_of(at))


def last_closed_period(at: datetime | None = None) -> Period:
    return period_of(at or clock.now()).previous()
