"""``period_index_at`` is the inverse of ``period_of`` (a correction finds its period's index from
the record's start, to apply the order's promotion as the period had it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orders.engine.billing import period_of
from orders.engine.promotions import period_index_at

ANCHORS = [datetime(2026, 1, 31, 15, 30, tzinfo=UTC), datetime(2024, 2, 29, 0, 0, tzinfo=UTC)]


@pytest.mark.parametrize("anchor", ANCHORS)
@pytest.mark.parametrize(("cycle", "count"), [("hour", 400), ("day", 400), ("month", 60), ("year", 12)])
def test_the_index_of_each_periods_start_is_its_index(anchor, cycle, count):
    for index in range(1, count + 1):
        start = period_of(anchor=anchor, cycle=cycle, index=index).start
        assert period_index_at(anchor=anchor, cycle=cycle, start=start) == index, (cycle, index)
