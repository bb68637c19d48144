"""The dashboard's SVG charts (ticks, gridlines, the currency on the axis) and its period picker."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from config.charts import nice_ticks, svg_bar_chart, svg_hbar_chart, tick_label
from config.clock import local_tz
from config.report_periods import report_period


def test_nice_ticks_cover_the_values_with_round_steps() -> None:
    assert nice_ticks(Decimal(0), Decimal(183)) == [Decimal(v) for v in (0, 50, 100, 150, 200)]
    assert nice_ticks(Decimal(-40), Decimal(90)) == [Decimal(v) for v in (-50, 0, 50, 100)]
    assert nice_ticks(Decimal(0), Decimal(0)) == [Decimal(n) / 5 for n in range(6)]
    assert tick_label(Decimal(1200)) == "1,200" and tick_label(Decimal("2.50")) == "2.5"


def test_bar_chart_has_axis_ticks_gridlines_and_currency() -> None:
    svg = str(
        svg_bar_chart(
            [("01", Decimal("120.5")), ("02", Decimal("-30")), ("03", Decimal("0"))],
            title="Revenue",
            currency="CNY",
            axis_label="Revenue",
            css_id="c",
        )
    )
    assert svg.count('class="tally-bar"') == 2 and svg.count('class="tally-bar negative"') == 1
    assert svg.count('class="tally-grid"') == len(re.findall(r'class="tally-tick"', svg)) >= 4
    assert "Revenue (CNY)" in svg and "<title>02: CNY -30.00</title>" in svg
    assert ">-50<" in svg and ">150<" in svg


def test_hbar_chart_ranks_with_a_value_axis() -> None:
    svg = str(
        svg_hbar_chart([("vol-50g", Decimal("75")), ("gpu", Decimal("20"))], title="Plans", currency="CNY")
    )
    assert svg.count("tally-bar") == 2 and "(CNY)" in svg and "CNY 75.00" in svg
    assert 'class="tally-grid"' in svg
    assert "no data" in str(svg_hbar_chart([], title="Plans", currency="CNY"))


def test_report_period_choices() -> None:
    today = date(2026, 3, 14)
    this = report_period({}, today=today)
    assert (this.choice, this.first_day, this.last_day, this.label) == ("this_month", date(2026, 3, 1), today,
                                                                       "2026-03-01 – 2026-03-14")  # fmt: skip
    last = report_period({"period": "last_month"}, today=today)
    assert (last.first_day, last.last_day, last.label) == (
        date(2026, 2, 1),
        date(2026, 2, 28),
        "February 2026",
    )
    assert last.start == datetime(2026, 2, 1, tzinfo=local_tz())
    assert last.end == datetime(2026, 3, 1, tzinfo=local_tz()) and len(last.days) == 28
    custom = report_period({"period": "custom", "from": "2026-01-10", "to": "2026-01-12"}, today=today)
    assert custom.choice == "custom" and len(custom.days) == 3 and not custom.error
    bad = report_period({"period": "custom", "from": "2026-01-12", "to": "2026-01-10"}, today=today)
    assert bad.choice == "this_month" and "before" in bad.error
    january = report_period({"period": "last_month"}, today=date(2026, 1, 5))
    assert (january.first_day, january.last_day) == (date(2025, 12, 1), date(2025, 12, 31))
