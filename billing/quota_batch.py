"""Batch deduction: ``POST /internal/v1/billing/deduct-quota/batch`` (B2b in docs/benchmarks.md).

A gateway that meters many calls sends up to ``MAX_ITEMS`` deductions at once. The items are grouped
by account; each group is one transaction that takes the same locks as ``quota_deduct`` (the
account row, then its quota rows of the month) and so serialises with single deductions and with
charges. Inside a group the items are applied in the order they came, with the same rules as
``quota_deduct``: free calls first, the balance for the rest; an item the balance cannot pay is
refused (it changes nothing) and the items after it still run. The group's writes are set-based:
one multi-row INSERT of ledger entries and one UPDATE of the balance (``accounts_charge_locked``),
one UPDATE per quota row used, one multi-row INSERT of usage rows (``config.bulk_insert``).

Idempotency is the single path's: ``(account, request_id)`` is unique on usage rows. A request id
answered before (by either path, or earlier in the same batch) is answered with its first result
(``replayed``). Under the account lock that read is exact; should a row appear anyway (a write that
skipped the lock), the unique key rolls the group back and the group is redone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F

from billing.batch_postings import BatchCharge, accounts_charge_locked
from billing.errors import AccountNotFound
from billing.locks import account_lock_row
from billing.models import Account, MonthlyQuota, QuotaUsage
from billing.quota import QuotaDeduction, active_service_cached, unknown_service_error
from billing.quota_cache import forget_on_commit
from billing.quota_rows import create_quota_row
from config import clock
from config.bulk_insert import instance_maker, rows_insert
from config.db import retry_on_conflict
from config.exceptions import DomainError, InsufficientFunds
from config.money import to_money
from plans.models import MeteredService

MAX_ITEMS = 1_000
_new_usage = instance_maker(QuotaUsage)  # 1,000 per batch (config.bulk_insert)
GROUP_ATTEMPTS = 3  # a group redone after a unique-key collision (see the module docstring)


@dataclass(frozen=True)
class DeductItem:
    namespace: str
    service: str
    count: int
    request_id: str


@dataclass(frozen=True)
class ItemResult:
    """One item's outcome: a deduction (new or replayed) or the error that refused it."""

    request_id: str
    deduction: QuotaDeduction | None = None
    error: DomainError | None = None


@dataclass
class _Group:
    """The pending writes of one account's items, planned under its lock."""

    account: Account
    balance: Decimal
    quotas: dict[int, MonthlyQuota]  # service id -> the month's locked row
    used_before: dict[int, int]  # quota row id -> its used count when locked
    charges: list[BatchCharge] = field(default_factory=list)
    usages: list[QuotaUsage] = field(default_factory=list)


def quota_deduct_batch(*, items: Sequence[DeductItem], at: datetime | None = None) -> list[ItemResult]:
    """Apply every item (see the module docstring); one result per item, in the items' order."""
    month = clock.month_of(at or clock.now())
    by_namespace: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        by_namespace.setdefault(item.namespace, []).append(index)
    account_ids = dict(Account.objects.filter(namespace__in=by_namespace).values_list("namespace", "pk"))
    results: dict[int, ItemResult] = {}
    for namespace, indexes in by_namespace.items():
        group = [items[i] for i in indexes]
        if namespace in account_ids:
            outcome = _group_deduct(account_ids[namespace], group, month)
        else:
            missing = AccountNotFound(
                f"namespace {namespace} not found", errors={"namespace": ["unknown namespace"]}
            )
            outcome = [ItemResult(item.request_id, error=missing) for item in group]
        results.update(zip(indexes, outcome, strict=True))
    return [results[i] for i in range(len(items))]


def _group_deduct(account_id: int, items: list[DeductItem], month: date) -> list[ItemResult]:
    for attempt in range(1, GROUP_ATTEMPTS + 1):
        try:
            return _group_transaction(account_id, items, month)
        except IntegrityError:
            if attempt == GROUP_ATTEMPTS:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


@retry_on_conflict
def _group_transaction(account_id: int, items: list[DeductItem], month: date) -> list[ItemResult]:
    services = {name: active_service_cached(name) for name in {item.service for item in items}}
    with transaction.atomic():
        account = account_lock_row(account_id)
        answered = {
            usage.request_id: usage
            for usage in QuotaUsage.objects.filter(
                account_id=account_id, request_id__in={item.request_id for item in items}
            )
        }
        quotas = _lock_quotas(account_id, [svc for svc in services.values() if svc is not None], month)
        group = _Group(account, account.balance, quotas, {q.pk: q.used for q in quotas.values()})
        results = []
        for item in items:
            svc = services[item.service]
            if item.request_id in answered:
                results.append(ItemResult(item.request_id, QuotaDeduction(answered[item.request_id], True)))
            elif svc is None:
                results.append(ItemResult(item.request_id, error=unknown_service_error(item.service)))
            else:
                usage, refusal = _plan_item(group, item, svc)
                if usage is not None:
                    answered[item.request_id] = usage
                    results.append(ItemResult(item.request_id, QuotaDeduction(usage, replayed=False)))
                else:
                    results.append(ItemResult(item.request_id, error=refusal))
        _write(group)
    return results


def _lock_quotas(account_id: int, services: list[MeteredService], month: date) -> dict[int, MonthlyQuota]:
    """The month's quota rows of these services, locked after the account (the fixed order); a
    missing row is created as ``quota_deduct`` creates it."""
    rows = {
        row.service_id: row
        for row in MonthlyQuota.objects.select_for_update()
        .filter(account_id=account_id, month=month, service_id__in=[svc.pk for svc in services])
        .order_by("service_id")
    }
    for svc in sorted(services, key=lambda s: s.pk):
        if svc.pk not in rows:
            rows[svc.pk] = create_quota_row(account_id=account_id, svc=svc, month=month)
    return rows


def _plan_item(
    group: _Group, item: DeductItem, svc: MeteredService
) -> tuple[QuotaUsage | None, InsufficientFunds | None]:
    """Free calls first, then the balance: the usage row to insert, or the refusal (nothing used)
    when the balance cannot pay."""
    quota = group.quotas[svc.pk]
    free = min(item.count, quota.total - quota.used)
    paid = item.count - free
    amount = to_money(paid * svc.unit_price)
    if amount > group.balance:
        return None, InsufficientFunds(
            f"insufficient balance: {group.balance} available, {amount} needed",
            balance=str(group.balance),
            required=str(amount),
        )
    quota.used += free
    group.balance -= amount
    if amount > 0:
        group.charges.append(
            BatchCharge(
                account_id=group.account.pk,
                amount=amount,
                idempotency_key=f"quota:{item.request_id}",
                subject=("quota_request", item.request_id),
                memo=f"{svc.service} x{paid}",
            )
        )
    usage = _new_usage(
        account_id=group.account.pk,
        service=svc,
        quota_id=quota.pk,
        request_id=item.request_id,
        count=item.count,
        free_count=free,
        paid_count=paid,
        unit_price=svc.unit_price,
        amount=amount,
        balance_after=group.balance,
    )
    group.usages.append(usage)
    return usage, None


def _write(group: _Group) -> None:
    """The group's writes, set-based, inside its transaction (see the module docstring)."""
    entries = accounts_charge_locked(accounts={group.account.pk: group.account}, charges=group.charges)
    if group.account.balance != group.balance:
        raise AssertionError("the batch's planned balance differs from the ledger write's")
    by_key = {entry.idempotency_key: entry for entry in entries}
    for usage in group.usages:  # what ``usage.ledger_entry = entry`` sets, without the descriptor
        entry = by_key.get(f"quota:{usage.request_id}")
        usage.ledger_entry_id = entry.pk if entry is not None else None
        usage._state.fields_cache["ledger_entry"] = entry
    # The records list's counts (billing.selectors.account_record_counts): a usage that paid on the
    # account row, one that paid nothing on its quota row, each with the UPDATE the group makes.
    paid = sum(1 for usage in group.usages if usage.ledger_entry_id is not None)
    if paid:
        counted = F("paid_quota_usage_count") + paid
        Account.objects.filter(pk=group.account.pk).update(paid_quota_usage_count=counted)
    free = Counter(usage.quota_id for usage in group.usages if usage.ledger_entry_id is None)
    for quota in group.quotas.values():
        if quota.used != group.used_before[quota.pk] or free[quota.pk]:
            MonthlyQuota.objects.filter(pk=quota.pk).update(
                used=quota.used, free_usage_count=F("free_usage_count") + free[quota.pk]
            )
        if quota.used != group.used_before[quota.pk]:
            forget_on_commit((group.account.pk,))
    if not rows_insert(group.usages, returning=True) and group.usages:
        # their keys, by the unique (account, request_id): one indexed read
        usages = {usage.request_id: usage for usage in group.usages}
        rows = QuotaUsage.objects.filter(account_id=group.account.pk, request_id__in=usages)
        for pk, request_id in rows.values_list("pk", "request_id"):
            usages[request_id].pk = pk
            usages[request_id]._state.adding = False
