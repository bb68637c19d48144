"""The finance dashboard's page (``/admin/dashboard/``): the reads of ``orders.dashboard.selectors``
and of billing's alerts, charts rendered server-side as SVG (``config.charts``: ticks, gridlines,
the currency on the axis; no JavaScript, no CDN) and tables. The definitions: docs/admin.md.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from billing.alerts.selectors import accounts_under_thresholds
from config.charts import svg_bar_chart, svg_hbar_chart
from config.display import money_html
from config.report_periods import CHOICES, ReportPeriod, report_period
from orders.dashboard.selectors import (
    ZERO,
    DayRevenue,
    accounts_in_arrears,
    consumption_per_plan,
    recharges_in,
    renewals_failed,
    revenue_by_day,
)
from usage.models import AuditRun

DASHBOARD_PERMISSION = "billing.view_ledgerentry"
UNDER_THRESHOLDS_LIMIT = 20


def _label_every(days: int) -> int:
    return 1 if days <= 16 else 2 if days <= 35 else 7


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """``/admin/dashboard/?period=this_month|last_month|custom&from=&to=``: staff with the ledger
    view permission (Finance, superusers)."""
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        raise PermissionDenied
    period = report_period(request.GET)
    currency = settings.TALLY_CURRENCY
    revenue = revenue_by_day(period)
    consumption = consumption_per_plan(period)
    recharges = recharges_in(period)
    failed = renewals_failed(start=period.start, end=period.end)
    arrears = accounts_in_arrears()
    under_total, under = accounts_under_thresholds(limit=UNDER_THRESHOLDS_LIMIT)
    totals = {
        "revenue": sum((d.revenue for d in revenue), ZERO),
        "charges": sum((d.charges for d in revenue), ZERO),
        "refunds": sum((d.refunds for d in revenue), ZERO),
    }
    whole_month = period.choice in ("this_month", "last_month")
    context = {
        **admin.site.each_context(request),
        "title": f"Finance dashboard: {period.label}",
        "tz_name": settings.TALLY_TIME_ZONE,
        "period": period,
        "choices": CHOICES,
        "currency": currency,
        "revenue": revenue,
        "totals": totals,
        "shown": {k: money_html(v, currency) for k, v in totals.items()}
        | {
            "consumption": money_html(consumption["total"], currency),
            "consumption_arrears": money_html(consumption["arrears"], currency),
            "recharges": money_html(recharges["amount"], currency),
            "review": money_html(recharges["review_amount"], currency),
            "owed": money_html(arrears["owed"], currency),
        },
        "consumption": consumption,
        **_charts(period, revenue, consumption, currency),
        **_table_rows(revenue, consumption, arrears, currency),
        "report_month": f"{period.first_day:%Y-%m}" if whole_month else "",
        "recharges": recharges,
        "arrears": arrears,
        "failed": failed,
        "under_total": under_total,
        "under_rows": [
            (row, money_html(row["balance"], row["currency"]), money_html(row["per_day"], row["currency"]))
            for row in under
        ],
        "last_audit": AuditRun.objects.order_by("-started_at", "-id").first(),
    }
    request.current_app = admin.site.name
    return TemplateResponse(request, "admin/tally/dashboard.html", context)


def _charts(
    period: ReportPeriod, revenue: list[DayRevenue], consumption: dict[str, Any], currency: str
) -> dict[str, Any]:
    """The two charts: revenue per day (bars) and consumption per plan (the 15 largest)."""
    return {
        "revenue_chart": svg_bar_chart(
            [(f"{d.day:%d}" if period.choice != "custom" else f"{d.day:%m-%d}", d.revenue) for d in revenue],
            title=f"Revenue per day (charges - refunds), {period.label}",
            currency=currency,
            axis_label="Revenue",
            x_label=f"Day ({settings.TALLY_TIME_ZONE})",
            label_every=_label_every(len(revenue)),
            css_id="chart-revenue",
        ),
        "consumption_chart": svg_hbar_chart(
            [(row["plan"], row["total"]) for row in consumption["rows"][:15]],
            title=f"Consumption per plan, {period.label}",
            currency=currency,
            axis_label="Consumption",
            css_id="chart-consumption",
        ),
    }


def _table_rows(
    revenue: list[DayRevenue], consumption: dict[str, Any], arrears: dict[str, Any], currency: str
) -> dict[str, Any]:
    """The tables under the charts, money as ``CNY 1,683.70``: days newest first, plans, arrears."""
    return {
        "revenue_rows": [
            (
                d.day,
                money_html(d.charges, currency),
                money_html(d.refunds, currency),
                money_html(d.revenue, currency),
            )
            for d in reversed(revenue)
        ],
        "consumption_rows": [
            (r["plan"], r["records"], money_html(r["total"], currency), money_html(r["arrears"], currency))
            for r in consumption["rows"]
        ],
        "arrears_rows": [(r, money_html(r["owed"], currency)) for r in arrears["top"]],
    }
