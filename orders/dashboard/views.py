"""The finance dashboard: selectors that aggregate in the database, a tiny SVG chart helper, the view.

``orders`` is the top layer, so it may read every app. Charts are drawn on the server as inline SVG:
no JavaScript, no CDN, nothing to ship; a test can count the ``<rect>`` elements.

Definitions (docs/admin.md):
- revenue of a day = charges minus refunds booked in the ledger that local day
  (charges are negative ledger amounts, refunds positive, so revenue = -(sum of both));
- consumption per plan = net amount of usage records whose period starts in the current local month
  (refund/credit records are negative), canceled records excluded;
- accounts in arrears = accounts with usage records in status ``arrears`` (amount owed = their sum);
- renewals failed today = purchase orders whose event moved them to ``renewalfailed`` today (local).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from billing.models import LedgerEntry, LedgerKind
from config.clock import local_tz, month_of, month_start_utc, next_month
from config.clock import now as clock_now
from config.money_sql import ExactMoneySum
from orders.models import PurchaseOrderEvent, PurchaseOrderStatus
from usage.models import AuditRun, UsageRecord, UsageStatus

ZERO = Decimal("0")
REVENUE_DAYS = 30
ARREARS_LIMIT = 20


# --- selectors ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DayRevenue:
    day: date
    charges: Decimal
    refunds: Decimal

    @property
    def revenue(self) -> Decimal:
        return self.charges - self.refunds


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=local_tz())


def revenue_by_day(*, days: int = REVENUE_DAYS, today: date | None = None) -> list[DayRevenue]:
    """Charges and refunds per local day, oldest first, in ONE query.

    Each day is a filtered ``SUM`` over exact local-midnight boundaries, so no database time-zone
    tables are needed (MySQL's ``CONVERT_TZ`` returns NULL without them) and DST days are right.
    """
    today = today or clock_now().astimezone(local_tz()).date()
    first = today - timedelta(days=days - 1)
    bounds = [_local_midnight(first + timedelta(days=i)) for i in range(days + 1)]
    aggregates: dict[str, Any] = {}
    for i in range(days):
        window = Q(created_at__gte=bounds[i], created_at__lt=bounds[i + 1])
        aggregates[f"c{i}"] = ExactMoneySum("amount", filter=window & Q(kind=LedgerKind.CHARGE))
        aggregates[f"r{i}"] = ExactMoneySum("amount", filter=window & Q(kind=LedgerKind.REFUND))
    totals = LedgerEntry.objects.filter(
        kind__in=[LedgerKind.CHARGE, LedgerKind.REFUND], created_at__gte=bounds[0], created_at__lt=bounds[-1]
    ).aggregate(**aggregates)
    return [
        DayRevenue(
            day=first + timedelta(days=i),
            charges=-(totals[f"c{i}"] or ZERO),
            refunds=totals[f"r{i}"] or ZERO,
        )
        for i in range(days)
    ]


def consumption_per_plan(*, month: date | None = None) -> list[dict[str, Any]]:
    """Net usage amount per plan for the local month (default the current one), largest first."""
    month = month or month_of(clock_now())
    rows = (
        UsageRecord.objects.filter(
            period_start__gte=month_start_utc(month), period_start__lt=month_start_utc(next_month(month))
        )
        .exclude(status=UsageStatus.CANCELED)
        .values("plan__plan_id")
        .annotate(total=ExactMoneySum("amount"), records=Count("id"))
        .order_by("-total", "plan__plan_id")
    )
    return [
        {
            "plan": row["plan__plan_id"] or "(no plan)",
            "total": row["total"] or ZERO,
            "records": row["records"],
        }
        for row in rows
    ]


def accounts_in_arrears(*, limit: int = ARREARS_LIMIT) -> dict[str, Any]:
    """The accounts owing the most (unpaid ``arrears`` usage records), and the overall totals."""
    arrears = UsageRecord.objects.filter(status=UsageStatus.ARREARS)
    top = list(
        arrears.values("account_id", "account__namespace")
        .annotate(owed=ExactMoneySum("amount"), records=Count("id"), oldest=Min("period_start"))
        .order_by("-owed", "account_id")[:limit]
    )
    overall = arrears.aggregate(owed=ExactMoneySum("amount"), accounts=Count("account_id", distinct=True))
    return {"top": top, "owed": overall["owed"] or ZERO, "accounts": overall["accounts"] or 0}


def renewals_failed_today(*, today: date | None = None, limit: int = 50) -> dict[str, Any]:
    """Purchase orders whose event moved them to ``renewalfailed`` since local midnight."""
    today = today or clock_now().astimezone(local_tz()).date()
    start = _local_midnight(today)
    events = PurchaseOrderEvent.objects.filter(
        to_status=PurchaseOrderStatus.RENEWALFAILED, time__gte=start, time__lt=start + timedelta(days=1)
    )
    count = events.values("order_id").distinct().count()
    rows = list(
        events.select_related("order", "order__account", "order__plan").order_by("-time", "-pk")[:limit]
    )
    return {"available": True, "count": count, "events": rows}


# --- SVG charts ---------------------------------------------------------------------------------
def _d(value: Decimal | int) -> Decimal:
    return Decimal(value)


def _q(value: Decimal) -> str:
    """A coordinate with one decimal: SVG needs no more."""
    return str(value.quantize(Decimal("0.1")))


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}"


def svg_bar_chart(
    points: Sequence[tuple[str, Decimal]],
    *,
    title: str,
    width: int = 760,
    height: int = 260,
    label_every: int = 5,
    css_id: str = "",
) -> SafeString:
    """A vertical bar chart with a zero line; negative bars go down in red. Values are Decimals."""
    left, right, top, bottom = _d(70), _d(10), _d(24), _d(34)
    plot_w = _d(width) - left - right
    plot_h = _d(height) - top - bottom
    values = [v for _, v in points] or [ZERO]
    hi, lo = max(max(values), ZERO), min(min(values), ZERO)
    span = (hi - lo) or Decimal(1)

    def y(v: Decimal) -> Decimal:
        return top + (hi - v) / span * plot_h

    zero_y = y(ZERO)
    slot = plot_w / max(len(points), 1)
    bar_w = slot * Decimal("0.8")
    parts: list[str] = []
    for i, (label, value) in enumerate(points):
        x = left + slot * i + slot * Decimal("0.1")
        y_top = min(y(value), zero_y)
        h = abs(y(value) - zero_y)
        css = "tally-bar negative" if value < 0 else "tally-bar"
        fill = "#ba2121" if value < 0 else "#417690"
        parts.append(
            format_html(
                '<rect class="{}" x="{}" y="{}" width="{}" height="{}" fill="{}">'
                "<title>{}: {}</title></rect>",
                css,
                _q(x),
                _q(y_top),
                _q(bar_w),
                _q(h),
                fill,
                label,
                _money(value),
            )
        )
        if i % label_every == 0 or i == len(points) - 1:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#666">{}</text>',
                    _q(x + bar_w / 2),
                    _q(_d(height) - bottom + 14),
                    label,
                )
            )
    axis = format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999" stroke-width="1"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">0</text>',
        _q(left),
        _q(zero_y),
        _q(left + plot_w),
        _q(zero_y),
        _q(left - 6),
        _q(top + 4),
        _money(hi),
        _q(left - 6),
        _q(top + plot_h),
        _money(lo) if lo < 0 else "",
        _q(left - 6),
        _q(zero_y + 4),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="tally-chart"{} role="img" aria-label="{}" '
        'width="{}" height="{}" viewBox="0 0 {} {}">'
        '<text x="{}" y="14" font-size="12" font-weight="bold" fill="#333">{}</text>{}{}</svg>',
        format_html(' id="{}"', css_id) if css_id else "",
        title,
        width,
        height,
        width,
        height,
        _q(left),
        title,
        axis,
        mark_safe("".join(parts)),  # noqa: S308
    )


def svg_hbar_chart(
    points: Sequence[tuple[str, Decimal]], *, title: str, width: int = 560, row: int = 22, css_id: str = ""
) -> SafeString:
    """A horizontal bar chart (one row per label), for rankings such as consumption per plan."""
    left, right, top = _d(150), _d(110), _d(24)
    plot_w = _d(width) - left - right
    height = int(top) + row * max(len(points), 1) + 10
    peak = max([abs(v) for _, v in points] or [ZERO]) or Decimal(1)
    rows = []
    for i, (label, value) in enumerate(points):
        y = top + _d(row) * i
        w = abs(value) / peak * plot_w
        fill = "#ba2121" if value < 0 else "#79aec8"
        rows.append(
            (
                _q(left - 6),
                _q(y + _d(row) * Decimal("0.65")),
                label,
                _q(left),
                _q(y + 3),
                _q(w),
                _q(_d(row) - 6),
                fill,
                label,
                _money(value),
                _q(left + w + 6),
                _q(y + _d(row) * Decimal("0.65")),
                _money(value),
            )
        )
    body = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#333">{}</text>'
        '<rect class="tally-bar" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>'
        '<text x="{}" y="{}" font-size="11" fill="#333">{}</text>',
        rows,
    )
    if not points:
        body = format_html(
            '<text x="{}" y="{}" font-size="11" fill="#666">no data</text>', _q(left), _q(top + 14)
        )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="tally-chart"{} role="img" aria-label="{}" '
        'width="{}" height="{}" viewBox="0 0 {} {}">'
        '<text x="10" y="14" font-size="12" font-weight="bold" fill="#333">{}</text>{}</svg>',
        format_html(' id="{}"', css_id) if css_id else "",
        title,
        width,
        height,
        width,
        height,
        title,
        body,
    )


# --- view ---------------------------------------------------------------------------------------
DASHBOARD_PERMISSION = "billing.view_ledgerentry"


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """``/admin/dashboard/``: staff with the ledger view permission (Finance, superusers)."""
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        raise PermissionDenied
    revenue = revenue_by_day()
    month = month_of(clock_now())
    consumption = consumption_per_plan(month=month)
    arrears = accounts_in_arrears()
    failed = renewals_failed_today()
    context = {
        **admin.site.each_context(request),
        "title": "Finance dashboard",
        "revenue": revenue,
        "revenue_total": sum((d.revenue for d in revenue), ZERO),
        "charges_total": sum((d.charges for d in revenue), ZERO),
        "refunds_total": sum((d.refunds for d in revenue), ZERO),
        "revenue_chart": svg_bar_chart(
            [(f"{d.day:%m-%d}", d.revenue) for d in revenue],
            title=f"Revenue per day, last {len(revenue)} days (charges - refunds)",
            css_id="chart-revenue",
        ),
        "month": month,
        "consumption": consumption,
        "consumption_chart": svg_hbar_chart(
            [(row["plan"], row["total"]) for row in consumption[:15]],
            title=f"Consumption per plan, {month:%Y-%m}",
            css_id="chart-consumption",
        ),
        "arrears": arrears,
        "failed": failed,
        "last_audit": AuditRun.objects.order_by("-started_at", "-id").first(),
    }
    request.current_app = admin.site.name
    return TemplateResponse(request, "admin/tally/dashboard.html", context)
