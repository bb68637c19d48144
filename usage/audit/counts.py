"""The counters behind the records list's ``total`` against the rows they count (check
``count_mismatch``; ``billing.selectors.account_record_counts`` reads them):

- ``Account.ledger_entry_count`` against the account's ledger entries (counted by the ledger pass
  of ``usage.audit.checks``, which reads every entry anyway);
- ``Account.paid_quota_usage_count`` against its quota usages with a ledger entry, and the
  ``free_usage_count`` of its monthly quota rows against those without one (this module).

A mismatch seen by the set-based statements is confirmed on that one account under its row lock
(every writer of these counters holds it), so a deduct that committed between two statements is
not reported. ``billing.ledger_write.ledger_entry_counts_rebuild`` and
``billing.quota_rows.quota_usage_counts_rebuild`` repair.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q, Sum

from billing.locks import account_lock_balance
from billing.models import Account, LedgerEntry, MonthlyQuota, QuotaUsage
from usage.audit.sql import Finding, new_finding

CHECK = "count_mismatch"


def quota_counts_vs_usages(*, account_id: int | None) -> list[Finding]:
    """Accounts whose quota-usage counters differ from their usage rows (confirmed under lock)."""
    suspects = [acc for acc, counted, found in _quota_counts(account_id) if counted != found]
    return [finding for acc in suspects for finding in confirmed_counts(acc, ledger=False)]


def _quota_counts(account_id: int | None) -> list[tuple[int, tuple[int, int], tuple[int, int]]]:
    """(account, (paid, free) as counted, (paid, free) as found in the usage rows), for every
    account that has a counter or a usage row."""
    scope = {} if account_id is None else {"account_id": account_id}
    found = {
        acc: (paid, free)
        for acc, paid, free in QuotaUsage.objects.filter(**scope)
        .order_by()
        .values("account_id")
        .annotate(
            paid=Count("id", filter=Q(ledger_entry__isnull=False)),
            free=Count("id", filter=Q(ledger_entry__isnull=True)),
        )
        .values_list("account_id", "paid", "free")
    }
    free_counted = dict(
        MonthlyQuota.objects.filter(**scope, free_usage_count__gt=0)
        .order_by()
        .values("account_id")
        .annotate(n=Sum("free_usage_count"))
        .values_list("account_id", "n")
    )
    accounts = Account.objects.filter(**({} if account_id is None else {"pk": account_id}))
    paid_counted = dict(
        accounts.filter(paid_quota_usage_count__gt=0).values_list("pk", "paid_quota_usage_count")
    )
    ids = found.keys() | free_counted.keys() | paid_counted.keys()
    return [
        (acc, (paid_counted.get(acc, 0), free_counted.get(acc, 0)), found.get(acc, (0, 0)))
        for acc in sorted(ids)
    ]


def confirmed_counts(account_id: int, *, ledger: bool) -> list[Finding]:
    """The account's counters against its rows, read under the account's row lock: the findings
    that remain (the ledger's count when ``ledger``, else the quota usages')."""
    with transaction.atomic():
        if account_lock_balance(account_id) is None:
            return []
        if ledger:
            counted = Account.objects.filter(pk=account_id).values_list("ledger_entry_count", flat=True).get()
            found = LedgerEntry.objects.filter(account_id=account_id).count()
            pairs = [("ledger_entry_count", counted, found, "ledger entries")]
        else:
            (counts,) = _quota_counts(account_id) or [(account_id, (0, 0), (0, 0))]
            _, (paid, free), (paid_found, free_found) = counts
            pairs = [
                ("paid_quota_usage_count", paid, paid_found, "quota usages with a ledger entry"),
                ("free_usage_count (sum of its quota rows)", free, free_found, "quota usages without one"),
            ]
    return [
        new_finding(
            account_id=account_id,
            check=CHECK,
            object_type="account",
            object_id=str(account_id),
            expected=str(found),
            actual=str(counted),
            detail=f"{name} != {what} (the records list's total)",
        )
        for name, counted, found, what in pairs
        if counted != found
    ]
