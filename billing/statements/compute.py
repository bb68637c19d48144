"""The numbers of a statement, for many accounts at once (set-based: a fixed number of queries per
chunk, whatever its size). Issue, the dry run and the draft preview all call ``statements_compute``;
only issue writes.

Per chunk: the period's ledger entries grouped into lines (one GROUP BY), the balance after the
period's last entry (primary-key lookups), the opening balance (the previous statement's closing
balance, else the balance after the last entry before the period), the month's free quota rows,
the credit notes issued in the period, and the usage-record detail of order lines (the provider
registered in ``hooks``).

Entries of one account are posted under its row lock, so their ids and times increase together;
"the last entry before t" is the highest id with ``created_at < t``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    F,
    IntegerField,
    Max,
    Min,
    Q,
    Sum,
    Value,
    When,
)

from billing.models import LedgerEntry, LedgerKind, MonthlyQuota
from billing.statements import hooks
from billing.statements.models import CreditNote, Statement
from billing.statements.periods import Period
from config.money import to_money
from config.money_sql import ExactMoneySum

ZERO = Decimal("0.0000")
METERED = "metered_service"
SOLO = "entry"  # a line of its own: an adjustment, or an entry without a subject
KIND_ORDER: dict[str, int] = {"recharge": 0, "charge": 1, "refund": 2, "adjustment": 3}
GROUP_LABELS = {
    "purchase_order": "Purchase order",
    "package_order": "Package order",
    "vehicle_order": "Vehicle order",
    "recharge": "Recharge",
    "batch_recharge": "Bank transfer",
    "usage_record": "Arrears of usage record",
    "statement": "Correction of statement",
    METERED: "Metered service",
}


@dataclass
class LineData:
    kind: str
    group_type: str
    group_id: str
    description: str
    entry_count: int
    first_at: datetime
    last_at: datetime
    amount: Decimal
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    details: list[dict[str, Any]] = field(default_factory=list)

    @property
    def subject(self) -> tuple[str, str]:
        return self.group_type, self.group_id


@dataclass
class StatementData:
    account_id: int
    namespace: str
    currency: str
    period: Period
    opening_balance: Decimal
    lines: list[LineData]
    ledger_closing: Decimal  # the balance after the period's last entry (or the opening balance)
    free_quota: list[dict[str, Any]]
    credit_notes: list[dict[str, Any]]

    def total(self, kind: str) -> Decimal:
        return to_money(sum((ln.amount for ln in self.lines if ln.kind == kind), ZERO))

    @property
    def closing_balance(self) -> Decimal:
        return to_money(self.opening_balance + sum((ln.amount for ln in self.lines), ZERO))

    @property
    def consistent(self) -> bool:
        return self.closing_balance == to_money(self.ledger_closing)

    @property
    def entry_count(self) -> int:
        return sum(ln.entry_count for ln in self.lines)

    @property
    def has_content(self) -> bool:
        return bool(self.lines or self.opening_balance or any(q["used"] for q in self.free_quota))


@dataclass(frozen=True)
class AccountRef:
    id: int
    namespace: str
    currency: str


def _group_rows(ids: Sequence[int], period: Period) -> list[dict[str, Any]]:
    metered = Q(subject_type="quota_request", kind=LedgerKind.CHARGE)
    solo = Q(kind=LedgerKind.ADJUSTMENT) | Q(subject_type="")
    qs = (
        LedgerEntry.objects.filter(
            account_id__in=ids, created_at__gte=period.start, created_at__lt=period.end
        )
        .annotate(
            g_type=Case(
                When(metered, then=Value(METERED)),
                When(solo, then=Value(SOLO)),
                default=F("subject_type"),
                output_field=CharField(),
            ),
            g_id=Case(When(metered, then=Value("")), default=F("subject_id"), output_field=CharField()),
            g_solo=Case(When(solo, then=F("id")), default=Value(0), output_field=IntegerField()),
            g_service=Case(
                When(metered, then=F("quota_usages__service__service")),
                default=Value(""),
                output_field=CharField(),
            ),
            g_price=Case(
                When(metered, then=F("quota_usages__unit_price")),
                default=Value(None),
                output_field=DecimalField(max_digits=20, decimal_places=4),
            ),
        )
        .values("account_id", "kind", "g_type", "g_id", "g_solo", "g_service", "g_price")
        .annotate(
            n=Count("id"),
            total=ExactMoneySum("amount"),
            calls=Sum("quota_usages__paid_count"),
            first_at=Min("created_at"),
            last_at=Max("created_at"),
            last_id=Max("id"),
            memo=Max("memo"),
        )
        .order_by()
    )
    return list(qs)


def _balances_after(entry_ids: Sequence[int]) -> dict[int, tuple[int, Decimal]]:
    """entry id -> (account id, balance after it)."""
    rows = LedgerEntry.objects.filter(pk__in=entry_ids).values_list("pk", "account_id", "balance_after")
    return {pk: (account_id, balance) for pk, account_id, balance in rows}


def _openings(ids: Sequence[int], period: Period) -> dict[int, Decimal]:
    prev = dict(
        Statement.objects.filter(account_id__in=ids, period=period.previous().month).values_list(
            "account_id", "closing_balance"
        )
    )
    rest = [i for i in ids if i not in prev]
    if rest:
        last_ids = (
            LedgerEntry.objects.filter(account_id__in=rest, created_at__lt=period.start)
            .values("account_id")
            .annotate(m=Max("id"))
            .order_by()
            .values_list("m", flat=True)
        )
        for account_id, balance in _balances_after(list(last_ids)).values():
            prev[account_id] = balance
    return prev


def _line(row: dict[str, Any]) -> LineData:
    kind, g_type, g_id = row["kind"], row["g_type"], row["g_id"]
    amount = to_money(row["total"])
    quantity = unit_price = None
    if g_type == METERED:
        g_id = row["g_service"] or "unknown"
        quantity = Decimal(row["calls"] or 0)
        unit_price = to_money(row["g_price"]) if row["g_price"] is not None else None
        description = f"{g_id}: {int(quantity)} paid calls"
    elif g_type == SOLO:
        g_id = str(row["g_solo"])
        description = row["memo"] or kind
    else:
        label = GROUP_LABELS.get(g_type, g_type.replace("_", " ").capitalize())
        description = f"{label} {g_id}"
        if row["n"] == 1 and row["memo"] and kind in (LedgerKind.REFUND, LedgerKind.ADJUSTMENT):
            description = f"{description}: {row['memo']}"
    return LineData(
        kind=kind,
        group_type=g_type,
        group_id=g_id,
        description=description[:500],
        entry_count=row["n"],
        first_at=row["first_at"],
        last_at=row["last_at"],
        amount=amount,
        quantity=quantity,
        unit_price=unit_price,
    )


def _json_detail(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("order", "instance", "component", "usage_kind", "records"):
        out[key] = row.get(key)
    for key in ("period_start", "period_end"):
        out[key] = row[key].isoformat() if row.get(key) else None
    for key in ("quantity", "unit_price", "amount"):
        out[key] = str(to_money(row[key])) if row.get(key) is not None else None
    return out


def statements_compute(
    *, accounts: Sequence[AccountRef], period: Period, include_empty: bool = False
) -> list[StatementData]:
    """The statement data of every account in ``accounts`` that has something to state (an opening
    balance, an entry or free calls used in the period; every account with ``include_empty``), in
    the order given."""
    ids = [a.id for a in accounts]
    if not ids:
        return []
    lines: dict[int, list[LineData]] = defaultdict(list)
    last_id: dict[int, int] = {}
    for row in _group_rows(ids, period):
        lines[row["account_id"]].append(_line(row))
        last_id[row["account_id"]] = max(last_id.get(row["account_id"], 0), row["last_id"])
    closing = {acc: bal for acc, bal in _balances_after(list(last_id.values())).values()}
    openings = _openings(ids, period)

    _attach_details(lines, period)
    quota = _free_quota(ids, period, lines)
    notes = _credit_notes_in(ids, period)

    out = []
    for account in accounts:
        account_lines = sorted(
            lines.get(account.id, []),
            key=lambda ln: (ln.first_at, KIND_ORDER.get(ln.kind, 9), ln.group_type, ln.group_id),
        )
        opening = to_money(openings.get(account.id, ZERO))
        data = StatementData(
            account_id=account.id,
            namespace=account.namespace,
            currency=account.currency,
            period=period,
            opening_balance=opening,
            lines=account_lines,
            ledger_closing=to_money(closing.get(account.id, opening)),
            free_quota=quota.get(account.id, []),
            credit_notes=notes.get(account.id, []),
        )
        if include_empty or data.has_content:
            out.append(data)
    return out


def _attach_details(lines: dict[int, list[LineData]], period: Period) -> None:
    """The order families' details (``hooks.line_details``) on the lines of their subjects."""
    by_subject: dict[tuple[int, str, str, str], LineData] = {}
    for account_id, account_lines in lines.items():
        for ln in account_lines:
            if ln.group_type not in (METERED, SOLO):
                by_subject[(account_id, ln.kind, ln.group_type, ln.group_id)] = ln
    if by_subject:
        for row in hooks.line_details(sorted({k[0] for k in by_subject}), period.start, period.end):
            key = (row["account_id"], row["entry_kind"], row["subject_type"], str(row["subject_id"]))
            target = by_subject.get(key)
            if target is not None:
                target.details.append(_json_detail(row))


def _free_quota(
    ids: list[int], period: Period, lines: dict[int, list[LineData]]
) -> dict[int, list[dict[str, Any]]]:
    """Per account, each service's free quota of the month, its use and the calls paid beyond it."""
    quota: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for account_id, service, total, used in (
        MonthlyQuota.objects.filter(account_id__in=ids, month=period.month)
        .order_by("service__service")
        .values_list("account_id", "service__service", "total", "used")
    ):
        paid = sum(
            int(ln.quantity or 0)
            for ln in lines.get(account_id, [])
            if ln.group_type == METERED and ln.group_id == service
        )
        quota[account_id].append({"service": service, "total": total, "used": used, "paid_calls": paid})
    return quota


def _credit_notes_in(ids: list[int], period: Period) -> dict[int, list[dict[str, Any]]]:
    """Per account, the credit notes issued in the period, in issue order."""
    notes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for note in (
        CreditNote.objects.filter(account_id__in=ids, issued_at__gte=period.start, issued_at__lt=period.end)
        .order_by("sequence")
        .values("account_id", "number", "statement__number", "amount", "issued_at")
    ):
        notes[note["account_id"]].append(
            {
                "number": note["number"],
                "statement": note["statement__number"],
                "amount": str(note["amount"]),
                "issued_at": note["issued_at"].isoformat(),
            }
        )
    return notes
