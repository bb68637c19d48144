"""The finance dashboard: selectors that aggregate in the database, the view, for a period (this
month, last month, custom: ``config.report_periods``). Charts are server-rendered SVG
(``config.charts``: ticks, gridlines, the currency on the axis); no JavaScript, no CDN.

Definitions (docs/admin.md), each over ``[start, end)`` of the period's local days:
- revenue of a day = charges minus refunds booked in the ledger that local day
  (charges are negative ledger amounts, refunds positive, so revenue = -(sum of both));
- consumption per plan = the money of the usage report (``usage.selectors.usage_report``): paid
  usage records whose money moved in the period, per plan; the arrears billed in the period apart.
  Its total is the report's total for the same period, by construction (same selectors);
- recharges = ``recharge`` ledger entries booked in the period (money in), and the recharge orders
  waiting for review now;
- accounts in arrears = accounts with usage records in status ``arrears`` now (amount owed = their sum);
- failed renewals = purchase orders whose event moved them to ``renewalfailed`` in the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from billing.models import LedgerEntry, LedgerKind, RechargeOrder, RechargeStatus
from config.charts import svg_bar_chart, svg_hbar_chart
from config.clock import local_tz
from config.display import money_html
from config.money_sql import ExactMoneySum
from config.report_periods import CHOICES, ReportPeriod, report_period
from orders.models import PurchaseOrderEvent, PurchaseOrderStatus
from usage.models import AuditRun, UsageRecord, UsageStatus
from usage.selectors import arrears_records, moved_records

ZERO = Decimal("0")
ARREARS_LIMIT = 20
DASHBOARD_PERMISSION = "billing.view_ledgerentry"


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


def revenue_by_day(period: ReportPeriod) -> list[DayRevenue]:
    """Charges and refunds per local day of the period, oldest first, in ONE query.

    Each day is a filtered ``SUM`` over exact local-midnight boundaries, so no database time-zone
    tables are needed (MySQL's ``CONVERT_TZ`` returns NULL without them) and DST days are right.
    """
    days = period.days
    bounds = [_local_midnight(d) for d in days] + [period.end]
    aggregates: dict[str, Any] = {}
    for i in range(len(days)):
        window = Q(created_at__gte=bounds[i], created_at__lt=bounds[i + 1])
        aggregates[f"c{i}"] = ExactMoneySum("amount", filter=window & Q(kind=LedgerKind.CHARGE))
        aggregates[f"r{i}"] = ExactMoneySum("amount", filter=window & Q(kind=LedgerKind.REFUND))
    totals = LedgerEntry.objects.filter(
        kind__in=[LedgerKind.CHARGE, LedgerKind.REFUND], created_at__gte=bounds[0], created_at__lt=bounds[-1]
    ).aggregate(**aggregates)
    return [
        DayRevenue(day=d, charges=-(totals[f"c{i}"] or ZERO), refunds=totals[f"r{i}"] or ZERO)
        for i, d in enumerate(days)
    ]


def consumption_per_plan(period: ReportPeriod) -> dict[str, Any]:
    """Per plan: the money the usage report counts for the period (paid records whose money moved
    then) and the arrears billed in it; largest first. ``total`` equals ``usage_report(...).total``."""
    per_plan: dict[str, dict[str, Any]] = {}

    def row(plan: str | None) -> dict[str, Any]:
        return per_plan.setdefault(plan or "(no plan)", {"plan": plan or "(no plan)", "total": ZERO,
                                                         "records": 0, "arrears": ZERO})  # fmt: skip

    for qs in moved_records(start=period.start, end=period.end):
        for r in (
            qs.values("plan__plan_id").annotate(amount=ExactMoneySum("amount"), n=Count("id")).order_by()
        ):
            target = row(r["plan__plan_id"])
            target["total"] += r["amount"] or ZERO
            target["records"] += r["n"]
    owed = arrears_records(start=period.start, end=period.end)
    for r in owed.values("plan__plan_id").annotate(amount=ExactMoneySum("amount")).order_by():
        row(r["plan__plan_id"])["arrears"] += r["amount"] or ZERO
    rows = sorted(per_plan.values(), key=lambda r: (-r["total"], r["plan"]))
    return {
        "rows": rows,
        "total": sum((r["total"] for r in rows), ZERO),
        "arrears": sum((r["arrears"] for r in rows), ZERO),
    }


def recharges_in(period: ReportPeriod) -> dict[str, Any]:
    """Money recharged in the period (``recharge`` ledger entries) and the reviews waiting now."""
    booked = LedgerEntry.objects.filter(
        kind=LedgerKind.RECHARGE, created_at__gte=period.start, created_at__lt=period.end
    ).aggregate(amount=ExactMoneySum("amount"), count=Count("id"))
    waiting = RechargeOrder.objects.filter(status=RechargeStatus.REVIEW).aggregate(
        count=Count("id"), amount=ExactMoneySum("amount")
    )
    return {
        "amount": booked["amount"] or ZERO,
        "count": booked["count"] or 0,
        "review_count": waiting["count"] or 0,
        "review_amount": waiting["amount"] or ZERO,
    }


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


def renewals_failed(*, start: datetime, end: datetime, limit: int = 50) -> dict[str, Any]:
    """Purchase orders whose event moved them to ``renewalfailed`` in ``[start, end)``."""
    events = PurchaseOrderEvent.objects.filter(
        to_status=PurchaseOrderStatus.RENEWALFAILED, time__gte=start, time__lt=end
    )
    count = events.values("order_id").distinct().count()
    rows = list(
        events.select_related("order", "order__account", "order__plan").order_by("-time", "-pk")[:limit]
    )
    return {"count": count, "events": rows}


def renewals_failed_today(*, today: date | None = None, limit: int = 50) -> dict[str, Any]:
    from config.clock import local
    from config.clock import now as clock_now

    today = today or local(clock_now()).date()
    start = _local_midnight(today)
    return renewals_failed(start=start, end=_local_midnight(today + timedelta(days=1)), limit=limit)


# --- view ---------------------------------------------------------------------------------------
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
