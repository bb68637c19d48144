"""Server-rendered SVG charts for the back office: axes with "nice" ticks and gridlines, the currency
on the value axis, readable labels, negative values in red below zero. No JavaScript, no CDN; values
are ``Decimal`` end to end (coordinates are rounded to one decimal only when written).

``svg_bar_chart``: vertical bars over time (revenue per day). ``svg_hbar_chart``: a ranking (consumption
per plan). Every bar is a ``<rect class="tally-bar">`` with a ``<title>`` tooltip, so tests can count them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from config.display import money_text

ZERO = Decimal(0)
STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
BLUE, RED, GRID, AXIS, INK, MUTED = "#417690", "#ba2121", "#e5e5e5", "#888", "#333", "#666"


def nice_ticks(lo: Decimal, hi: Decimal, count: int = 5) -> list[Decimal]:
    """Ticks covering ``[lo, hi]`` (both widened to include 0) at a step of 1, 2, 2.5 or 5 x 10^k."""
    lo, hi = min(lo, ZERO), max(hi, ZERO)
    if hi == lo:
        hi = lo + 1
    raw = (hi - lo) / count
    magnitude = Decimal(1).scaleb(raw.adjusted())
    step = next(m * magnitude for m in STEPS if raw <= m * magnitude)
    first = (lo / step).to_integral_value(rounding=ROUND_FLOOR) * step
    last = (hi / step).to_integral_value(rounding=ROUND_CEILING) * step
    ticks, tick = [], first
    while tick <= last:
        ticks.append(tick)
        tick += step
    return ticks


def tick_label(value: Decimal) -> str:
    """``1,200`` or ``2.5``: the currency is on the axis title, not on every tick."""
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value.normalize():,f}"


def _q(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.1")))


def _svg(css_id: str, title: str, width: int, height: int, body: SafeString) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="tally-chart"{} role="img" aria-label="{}" '
        'width="{}" height="{}" viewBox="0 0 {} {}" font-family="sans-serif">'
        '<text x="8" y="16" font-size="13" font-weight="bold" fill="{}">{}</text>{}</svg>',
        format_html(' id="{}"', css_id) if css_id else "",
        title,
        width,
        height,
        width,
        height,
        INK,
        title,
        body,
    )


def svg_bar_chart(
    points: Sequence[tuple[str, Decimal]],
    *,
    title: str,
    currency: str,
    axis_label: str = "",
    x_label: str = "",
    width: int = 1000,
    height: int = 300,
    label_every: int = 1,
    css_id: str = "",
) -> SafeString:
    """Vertical bars with a value axis (ticks, gridlines, ``axis_label (CNY)``) and labelled days."""
    left, right, top, bottom = Decimal(78), Decimal(12), Decimal(30), Decimal(46)
    plot_w, plot_h = Decimal(width) - left - right, Decimal(height) - top - bottom
    ticks = _value_ticks(points)
    lo, hi = ticks[0], ticks[-1]

    def y(v: Decimal) -> Decimal:
        return top + (hi - v) / (hi - lo) * plot_h

    grid = _value_rows(ticks, y, left, plot_w)
    bars, labels = _columns(
        points, y, left=left, plot_w=plot_w, baseline=top + plot_h, label_every=label_every, currency=currency
    )
    body = format_html(
        "{}{}{}"
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>'
        '<text class="tally-axis-label" x="14" y="{}" font-size="11" fill="{}" '
        'transform="rotate(-90 14 {})" text-anchor="middle">{}</text>'
        '<text x="{}" y="{}" font-size="11" fill="{}" text-anchor="middle">{}</text>',
        grid,
        format_html_join(
            "",
            '<rect class="{}" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
            bars,
        ),
        format_html_join(
            "",
            '<text class="tally-x" x="{}" y="{}" font-size="11" text-anchor="middle" fill="{}">{}</text>',
            labels,
        ),
        _q(left), _q(top), _q(left), _q(top + plot_h), AXIS,
        _q(top + plot_h / 2), INK, _q(top + plot_h / 2), _axis_title(axis_label, currency),
        _q(left + plot_w / 2), _q(Decimal(height) - 8), INK, x_label,
    )  # fmt: skip
    return _svg(css_id, title, width, height, body)


def svg_hbar_chart(
    points: Sequence[tuple[str, Decimal]],
    *,
    title: str,
    currency: str,
    axis_label: str = "",
    width: int = 620,
    row: int = 26,
    css_id: str = "",
) -> SafeString:
    """A ranking: one bar per label, a value axis below (ticks, gridlines, the currency)."""
    left, right, top, bottom = Decimal(130), Decimal(120), Decimal(30), Decimal(42)
    plot_w = Decimal(width) - left - right
    rows_h = Decimal(row) * max(len(points), 1)
    height = int(top + rows_h + bottom)
    ticks = _value_ticks(points, count=4)
    lo, hi = ticks[0], ticks[-1]

    def x(v: Decimal) -> Decimal:
        return left + (v - lo) / (hi - lo) * plot_w

    grid = _value_columns(ticks, x, top, rows_h)
    rows = _ranking_rows(points, x, left=left, top=top, row=row, currency=currency)
    body = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="12" text-anchor="end" fill="{}"><title>{}</title>{}</text>'
        '<rect class="tally-bar" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>'
        '<text class="tally-value" x="{}" y="{}" font-size="11" fill="{}">{}</text>',
        rows,
    )
    if not points:
        body = format_html(
            '<text x="{}" y="{}" font-size="12" fill="{}">no data</text>', _q(left), _q(top + 16), MUTED
        )
    axis = format_html(
        '<text class="tally-axis-label" x="{}" y="{}" font-size="11" fill="{}" '
        'text-anchor="middle">{}</text>',
        _q(left + plot_w / 2), _q(top + rows_h + 34), INK, _axis_title(axis_label, currency),
    )  # fmt: skip
    return _svg(css_id, title, width, height, mark_safe(grid + body + axis))  # noqa: S308 - built by format_html


Scale = Callable[[Decimal], Decimal]  # a value to its coordinate on the value axis
HtmlRow = tuple[str, ...]  # the values of one ``format_html_join`` row


def _value_ticks(points: Sequence[tuple[str, Decimal]], count: int = 5) -> list[Decimal]:
    """The value axis of either chart: nice ticks over the values (and zero)."""
    values = [v for _, v in points] or [ZERO]
    return nice_ticks(min(values), max(values), count=count)


def _axis_title(axis_label: str, currency: str) -> str:
    return f"{axis_label} ({currency})".strip()


def _value_rows(ticks: list[Decimal], y: Scale, left: Decimal, plot_w: Decimal) -> SafeString:
    """Horizontal gridlines with their tick labels on the left (the zero line darker)."""
    return format_html_join(
        "",
        '<line class="tally-grid" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>'
        '<text class="tally-tick" x="{}" y="{}" font-size="11" text-anchor="end" fill="{}">{}</text>',
        (
            (_q(left), _q(y(t)), _q(left + plot_w), _q(y(t)), AXIS if t == 0 else GRID,
             _q(left - 6), _q(y(t) + 4), MUTED, tick_label(t))
            for t in ticks
        ),
    )  # fmt: skip


def _columns(
    points: Sequence[tuple[str, Decimal]],
    y: Scale,
    *,
    left: Decimal,
    plot_w: Decimal,
    baseline: Decimal,
    label_every: int,
    currency: str,
) -> tuple[list[HtmlRow], list[HtmlRow]]:
    """One bar per point (red below zero) and the x labels shown (every ``label_every``-th, and the
    last), as ``format_html_join`` rows."""
    slot = plot_w / max(len(points), 1)
    bars: list[HtmlRow] = []
    labels: list[HtmlRow] = []
    bar_w = min(slot * Decimal("0.7"), Decimal(48))
    for i, (label, value) in enumerate(points):
        x = left + slot * i + (slot - bar_w) / 2
        top_y, h = min(y(value), y(ZERO)), abs(y(value) - y(ZERO))
        negative = value < 0
        bars.append(
            (
                "tally-bar negative" if negative else "tally-bar",
                _q(x), _q(top_y), _q(bar_w), _q(h), RED if negative else BLUE,
                label, money_text(value, currency),
            )
        )  # fmt: skip
        if i % label_every == 0 or i == len(points) - 1:
            labels.append((_q(x + bar_w / 2), _q(baseline + 16), MUTED, label))
    return bars, labels


def _value_columns(ticks: list[Decimal], x: Scale, top: Decimal, rows_h: Decimal) -> SafeString:
    """Vertical gridlines with their tick labels below (the zero line darker)."""
    return format_html_join(
        "",
        '<line class="tally-grid" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>'
        '<text class="tally-tick" x="{}" y="{}" font-size="11" text-anchor="middle" fill="{}">{}</text>',
        (
            (_q(x(t)), _q(top), _q(x(t)), _q(top + rows_h), AXIS if t == 0 else GRID,
             _q(x(t)), _q(top + rows_h + 15), MUTED, tick_label(t))
            for t in ticks
        ),
    )  # fmt: skip


def _ranking_rows(
    points: Sequence[tuple[str, Decimal]], x: Scale, *, left: Decimal, top: Decimal, row: int, currency: str
) -> list[HtmlRow]:
    """Per point: its label (shortened, the full one as tooltip), its bar and its value."""
    rows: list[HtmlRow] = []
    for i, (label, value) in enumerate(points):
        y = top + Decimal(row) * i
        start, end = sorted((x(ZERO), x(value)))
        short = label if len(label) <= 18 else label[:17] + "…"
        rows.append(
            (
                _q(left - 8), _q(y + Decimal(row) * Decimal("0.65")), INK, label, short,
                _q(start), _q(y + 4), _q(end - start), _q(Decimal(row) - 8), RED if value < 0 else "#79aec8",
                label, money_text(value, currency),
                _q(max(x(ZERO), x(value)) + 6), _q(y + Decimal(row) * Decimal("0.65")), INK,
                money_text(value, currency),
            )
        )  # fmt: skip
    return rows
