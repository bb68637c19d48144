"""Whole-table invariants (each a function returning findings), used by ``invariants.Checker``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, Sum

from billing.models import LedgerEntry, MonthlyQuota, QuotaUsage, RechargeOrder
from orders.models import PurchaseOrder, SubscriptionLine
from usage.models import MeterEvent, UsageKind, UsageRecord, UsageStatus

Finding = tuple[str, str]
PERIOD_KINDS = (UsageKind.NEW, UsageKind.RENEW, UsageKind.SWITCH, UsageKind.HOURLY, UsageKind.USAGE)


def metered(rec: Mapping[str, Any]) -> list[Finding]:
    """A metered record bills exactly the events that name it (``billed_record_id``)."""
    billed = sum(
        MeterEvent.objects.filter(billed_record_id=rec["pk"]).values_list("quantity", flat=True), Decimal(0)
    )
    if rec["quantity"] == billed:
        return []
    return [("metered_usage_billed_exactly", f"usage record {rec['pk']} billed {rec['quantity']}, its "
                                             f"events are {billed}")]  # fmt: skip


def periods_billed_once() -> list[Finding]:
    """No two billing records of one line cover the same time (a period billed twice)."""
    rows = (
        UsageRecord.objects.filter(kind__in=PERIOD_KINDS)
        .exclude(status=UsageStatus.CANCELED)
        .order_by("line_id", "period_start", "pk")
        .values_list("pk", "line_id", "period_start", "period_end")
    )
    out: list[Finding] = []
    last: tuple[int, int, Any] | None = None
    for pk, line_id, start, end in rows.iterator(chunk_size=5000):
        if last is not None and last[1] == line_id and start < last[2]:
            out.append(
                (
                    "period_billed_once",
                    f"line {line_id}: records {last[0]} and {pk} overlap at {start.isoformat()}",
                )
            )
        if last is None or last[1] != line_id or end > last[2]:
            last = (pk, line_id, end)
    return out[:5]


def recharges_credited_once() -> list[Finding]:
    out: list[Finding] = []
    credits: dict[str, int] = defaultdict(int)
    for key in LedgerEntry.objects.filter(idempotency_key__startswith="recharge:").values_list(
        "idempotency_key", flat=True
    ):
        credits[key.removeprefix("recharge:")] += 1
    for public_id, status, entry_id in RechargeOrder.objects.values_list(
        "public_id", "status", "ledger_entry_id"
    ):
        n = credits.get(public_id, 0)
        if status == "success" and (n != 1 or entry_id is None):
            out.append(("recharge_credited_once", f"{public_id} is success with {n} credit(s)"))
        if status != "success" and n:
            out.append(("recharge_credited_once", f"{public_id} is {status} but was credited {n} time(s)"))
    return out


def quota() -> list[Finding]:
    out: list[Finding] = []
    used = dict(
        QuotaUsage.objects.values("quota_id").annotate(s=Sum("free_count")).values_list("quota_id", "s")
    )
    for pk, total, n in MonthlyQuota.objects.values_list("pk", "total", "used"):
        if n > total or n != (used.get(pk) or 0):
            out.append(
                (
                    "quota_within_total",
                    f"quota {pk}: used {n} of {total}, its calls used {used.get(pk) or 0} free",
                )
            )
    bad = QuotaUsage.objects.filter(
        Q(paid_count__gt=0, ledger_entry__isnull=True) | Q(free_count__gt=F("count"))
    )
    for pk in bad.values_list("pk", flat=True)[:5]:
        out.append(
            (
                "quota_within_total",
                f"metered call {pk}: paid part without a ledger entry or free part > count",
            )
        )
    return out


def deadlines() -> list[Finding]:
    """A running prepaid purchase order's deadline is the end of its paid period."""
    out: list[Finding] = []
    rows = PurchaseOrder.objects.filter(status__in=[5, 7], plan__billing_mode="prepaid").values_list(
        "order_id", "deadline", "subscription_id"
    )
    paid = dict(
        SubscriptionLine.objects.filter(subscription__kind="purchase").values_list(
            "subscription_id", "paid_until"
        )
    )
    for order_id, deadline, sub_id in rows:
        if paid.get(sub_id) != deadline:
            out.append(
                ("deadline_is_paid_period", f"{order_id}: deadline {deadline}, paid until {paid.get(sub_id)}")
            )
    return out


def report_matches_ledger(*, every_month: bool = False) -> list[Finding]:
    """Each account's report (the API's selector) for all time, for the current and the previous
    local month (``every_month``: for every month with money) equals what its ledger moved for
    usage records in that period (entries paying records; issue 15: booked when the money moves)."""
    from django.utils import timezone

    from config.clock import month_of, month_start_utc, next_month
    from usage.selectors import usage_report

    linked = UsageRecord.objects.filter(ledger_entry__isnull=False).values_list("ledger_entry_id", flat=True)
    entries = list(
        LedgerEntry.objects.filter(pk__in=linked.distinct()).values_list(
            "account__namespace", "amount", "created_at"
        )
    )
    ranges = [(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))]
    months = {month_of(at) for _, _, at in entries} if every_month else set()
    current = month_of(timezone.now())
    previous = month_of(month_start_utc(current) - timedelta(days=1))
    for month in sorted(months | {current, previous}):
        ranges.append((month_start_utc(month), month_start_utc(next_month(month))))
    out: list[Finding] = []
    for start, end in ranges:
        moved: dict[str, Decimal] = defaultdict(Decimal)
        for ns, amount, at in entries:
            if start <= at < end:
                moved[ns] -= amount
        report = usage_report(start=start, end=end, group_by="account")
        shown = {row["namespace"]: row["amount"] for row in report.rows}
        for ns in sorted(set(shown) | set(moved)):
            if shown.get(ns, Decimal(0)) != moved.get(ns, Decimal(0)):
                out.append(("report_matches_ledger", f"{ns} [{start:%Y-%m-%d}, {end:%Y-%m-%d}): report "
                            f"{shown.get(ns, 0)}, ledger {moved.get(ns, 0)}"))  # fmt: skip
    return out


def audit_ledger() -> list[Finding]:
    """Everything ``manage.py audit_ledger`` checks (``usage.audit.ledger_audit``), by its names."""
    from usage.audit import ledger_audit

    return [
        (
            f"audit_ledger:{f.check}",
            f"{f.object_type} {f.object_id} ({f.namespace}): expected {f.expected}, "
            f"found {f.actual} {f.detail}".rstrip(),
        )  # fmt: skip
        for f in ledger_audit()
    ]


NAMES_ITS_PRICE = "record_names_its_price"


def records_name_their_price() -> list[Finding]:
    """A record that names a price version or rule was charged that price (a ``change`` record's
    unit price is a difference of two prices, so it is left out), and that price is frozen
    (``first_used_at`` set): docs/plans.md, "A record always names the price it was charged"."""
    out: list[Finding] = []
    for ref in ("price_version", "price_rule"):
        named = UsageRecord.objects.filter(**{f"{ref}__isnull": False})
        wrong = named.exclude(kind=UsageKind.CHANGE).exclude(unit_price=F(f"{ref}__price"))
        for pk, unit_price, price in wrong.values_list("pk", "unit_price", f"{ref}__price")[:5]:
            out.append((NAMES_ITS_PRICE, f"usage record {pk} charged {unit_price}, its {ref} is {price}"))
        unstamped = named.filter(**{f"{ref}__first_used_at__isnull": True})
        for pk, price_id in unstamped.values_list("pk", ref)[:5]:
            out.append((NAMES_ITS_PRICE, f"usage record {pk} names {ref} {price_id}, not stamped used"))
    return out
