"""The finance dashboard's reads: aggregates computed in the database for a period (this month,
last month, custom: ``config.report_periods``).

Definitions (docs/admin.md), each over ``[start, end)`` of the period's local days:
- revenue of a day = charges minus refunds booked in the ledger that local day
  (charges are negative ledger amounts, refunds positive, so revenue = -(sum of both));
- consumption per plan = the money of the usage report (``usage.selectors.usage_report``): paid
  usage records whose money moved in the period, per plan; the arrears billed in the period apart.
  Its total is the report's total for the same period, by construction (same selectors, which
  read the usage rollups: ``usage.rollup_reads``);
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

from django.db.models import Count, Min, Q

from billing.models import LedgerEntry, LedgerKind, RechargeOrder, RechargeStatus
from config.clock import local_tz
from config.money_sql import ExactMoneySum
from config.report_periods import ReportPeriod
from orders.purchase.models import PurchaseOrderEvent, PurchaseOrderStatus
from usage.models import UsageRecord, UsageStatus
from usage.selectors import grouped_money

ZERO = Decimal("0")
ARREARS_LIMIT = 20


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

    moved, owed = grouped_money(start=period.start, end=period.end, keys=("plan",))  # the rollups
    for (plan,), figures in moved.items():
        target = row(plan)
        target["total"] += figures.money
        target["records"] += figures.records
    for (plan,), figures in owed.items():
        row(plan)["arrears"] += figures.money
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
