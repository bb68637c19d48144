from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from orders.engine.billing import period_of

SH = ZoneInfo("Asia/Shanghai")


def local(y, m, d, h=0):
    return datetime(y, m, d, h, tzinfo=SH)


@pytest.mark.parametrize(
    ("anchor", "ends"),
    [
        # Jan 31 anchors: clamp to the month's length, then come back to the 31st.
        (local(2027, 1, 31, 10), [local(2027, 2, 28, 10), local(2027, 3, 31, 10), local(2027, 4, 30, 10)]),
        # Leap year: Feb 29.
        (local(2028, 1, 31), [local(2028, 2, 29), local(2028, 3, 31)]),
        (local(2028, 2, 29), [local(2028, 3, 29), local(2028, 4, 29)]),
        (local(2026, 12, 15), [local(2027, 1, 15), local(2027, 2, 15)]),
    ],
)
def test_monthly_periods_are_anchored_on_the_start(anchor, ends):
    for index, end in enumerate(ends, start=1):
        p = period_of(anchor=anchor.astimezone(UTC), cycle="month", index=index)
        assert p.end == end
        assert p.start == (anchor if index == 1 else ends[index - 2])


def test_month_lengths_28_to_31_are_all_seen():
    anchor = local(2027, 1, 31).astimezone(UTC)
    lengths = set()
    for i in range(1, 13):
        p = period_of(anchor=anchor, cycle="month", index=i)
        lengths.add(round((p.end - p.start).total_seconds() / 86400))
    assert {28, 29, 30, 31} >= lengths >= {28, 30, 31}


def test_hour_and_year_cycles():
    anchor = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert period_of(anchor=anchor, cycle="hour", index=3).start == datetime(2026, 3, 1, 14, tzinfo=UTC)
    assert period_of(anchor=local(2028, 2, 29), cycle="year", index=1).end == local(2029, 2, 28)


def test_period_index_starts_at_one():
    with pytest.raises(ValueError):
        period_of(anchor=datetime(2026, 1, 1, tzinfo=UTC), cycle="day", index=0)
