"""Wallets and their append-only ledger (docs/billing.md), and stored idempotent API responses."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

NAMESPACE_REGEX = r"^[A-Za-z0-9_-]{1,50}$"
NAMESPACE_VALIDATOR = RegexValidator(NAMESPACE_REGEX, "use 1-50 letters, digits, '_' or '-'")


# Written only by the ledger's own UPDATE (``Account.save`` leaves them out).
LEDGER_KEPT_FIELDS = frozenset({"balance", "ledger_entry_count", "paid_quota_usage_count"})


class Account(models.Model):
    """A wallet identified by a namespace. ``balance`` always equals the sum of its ledger."""

    namespace = models.CharField(max_length=50, unique=True, validators=[NAMESPACE_VALIDATOR])
    currency = models.CharField(max_length=3)
    balance = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    ledger_entry_count = models.BigIntegerField(
        default=0,
        db_default=0,  # also for rows written by plain SQL (the benchmarks' data) without the column
        help_text="how many ledger entries the account has: counted by the posting's own UPDATE of "
        "this row (billing.ledger_write, billing.batch_postings); the records list's total (B7)",
    )
    paid_quota_usage_count = models.BigIntegerField(
        default=0,
        db_default=0,
        help_text="how many of the account's quota usages paid money (have a ledger entry): counted "
        "by that entry's own UPDATE of this row; with the quota rows' free_usage_count, the records "
        "list's total (billing.selectors.account_record_counts)",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="tally_accounts")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace"]
        permissions = [
            ("adjust_balance", "Can adjust account balances"),
            ("use_internal_api", "Can call the internal billing API"),
            # Staff powers of the public API (issue 13; docs/security.md "Permissions and tenancy").
            ("view_any_account", "Can read any namespace's wallet, orders and statements (API)"),
            ("act_for_any_account", "Can pay, charge, cancel or renew for any namespace (API)"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="account_balance_non_negative"),
        ]

    def __str__(self) -> str:
        return self.namespace

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saving a loaded account writes everything but ``balance`` and ``ledger_entry_count``:
        those move only with a ledger entry (``billing.ledger_write``, by an UPDATE that locks and
        adds), and the copies this instance read may be stale by the time it saves (the admin
        change form read them, a charge committed, the form saved the old balance back: money
        minted; ``tests/billing/test_admin.py``). A create writes them (their defaults)."""
        if not self._state.adding and kwargs.get("update_fields") is None and self.pk is not None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in LEDGER_KEPT_FIELDS
            ]
        super().save(*args, **kwargs)


class LedgerKind(models.TextChoices):
    RECHARGE = "recharge"
    CHARGE = "charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


class LedgerEntry(models.Model):
    """One change of one balance. Never updated or deleted: a mistake gets a new entry."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger_entries")
    amount = models.DecimalField(max_digits=20, decimal_places=4, help_text="signed: + credit, - debit")
    balance_after = models.DecimalField(max_digits=20, decimal_places=4)
    kind = models.CharField(max_length=12, choices=LedgerKind.choices)
    # What the money is for: ("purchase_order", "17"), ("usage_record", "3"), ("recharge", "R..."), ...
    subject_type = models.CharField(max_length=40, blank=True, default="")
    subject_id = models.CharField(max_length=64, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    memo = models.CharField(max_length=500, blank=True, default="")
    idempotency_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], name="uniq_ledger_idempotency_key"
            ),
            models.CheckConstraint(
                condition=models.Q(balance_after__gte=0), name="ledger_balance_after_non_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "created_at"]),
            models.Index(fields=["subject_type", "subject_id"]),
            models.Index(fields=["kind", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.amount}"


class IdempotencyKey(models.Model):
    """The first response to a request with an ``Idempotency-Key`` header (docs/api.md).

    A ``running`` row is leased to the request doing the work until ``lease_until``; ``attempt``
    counts the holders, so a retry after an expired lease takes the key over with one conditional
    UPDATE and a holder that lost its lease cannot overwrite the taker's answer.
    """

    class State(models.TextChoices):
        RUNNING = "running"
        DONE = "done"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=8, choices=State.choices, default=State.RUNNING)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_key_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class MonthlyQuota(models.Model):
    """The free calls of one metered service for one account in one local calendar month.

    ``month`` is the first day of the month in ``TALLY_TIME_ZONE`` (``config.clock.month_of``).
    ``total`` is copied from the service when the row is created, so a later change of the
    service's free quota applies from the next month on. Unused quota does not roll over: a new
    month is a new row.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="quotas")
    service = models.ForeignKey("plans.MeteredService", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    total = models.PositiveIntegerField()
    used = models.PositiveIntegerField(default=0)
    free_usage_count = models.BigIntegerField(
        default=0,
        db_default=0,
        help_text="how many usages of this row paid no money (no ledger entry): counted by the "
        "usage's own UPDATE of this row (billing.quota_rows, billing.quota_batch)",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month", "service_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "service", "month"], name="uniq_quota_account_service_month"
            ),
            models.CheckConstraint(
                condition=models.Q(used__lte=models.F("total")), name="quota_used_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.service_id} {self.month:%Y-%m} {self.used}/{self.total}"

    @property
    def remaining(self) -> int:
        return self.total - self.used


class QuotaUsage(models.Model):
    """One ``deduct-quota`` call: the free part and the paid part (with its ledger entry).

    Unique per (account, request_id): a repeated request id finds this row and answers the first
    result without moving quota or money.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="quota_usages")
    service = models.ForeignKey("plans.MeteredService", on_delete=models.PROTECT, related_name="+")
    quota = models.ForeignKey(MonthlyQuota, on_delete=models.PROTECT, related_name="usages")
    request_id = models.CharField(max_length=128)
    count = models.PositiveIntegerField()
    free_count = models.PositiveIntegerField()
    paid_count = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=20, decimal_places=4)
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    balance_after = models.DecimalField(max_digits=20, decimal_places=4)
    ledger_entry = models.ForeignKey(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="quota_usages"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "request_id"], name="uniq_quota_usage_request"),
        ]
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.request_id} {self.free_count}+{self.paid_count}"


class RechargeStatus(models.TextChoices):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    REVIEW = "review"


class RechargeOrder(models.Model):
    """A request to top up a wallet; the payment provider's signed callback settles it."""

    public_id = models.CharField(max_length=32, unique=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="recharges")
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    currency = models.CharField(max_length=3)
    payment_method = models.CharField(max_length=20)
    payment_id = models.CharField(max_length=128, blank=True, default="", help_text="provider reference")
    status = models.CharField(max_length=8, choices=RechargeStatus.choices, default=RechargeStatus.PENDING)
    pay_url = models.CharField(max_length=1000, blank=True, default="")
    pay_token_hash = models.CharField(
        max_length=64, blank=True, default="", help_text="sha256 of the sandbox pay page's one-time token"
    )
    review_reason = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ledger_entry = models.ForeignKey(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="recharges"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="recharge_amount_positive")
        ]
        indexes = [
            models.Index(fields=["account", "created_at"]),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.public_id


class RechargeEvent(models.Model):
    """Audit trail of a recharge order's state changes (one row per transition or callback)."""

    recharge = models.ForeignKey(RechargeOrder, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=8, blank=True, default="")
    to_status = models.CharField(max_length=8)
    note = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.recharge_id} {self.from_status}->{self.to_status}"


from billing.alerts.models import AlertState, AlertThreshold  # noqa: E402,F401 - alert models of this app
from billing.statements.models import (  # noqa: E402,F401 - the statement models belong to this app
    CreditNote,
    DocumentPdf,
    DocumentSequence,
    Statement,
    StatementBatch,
    StatementLine,
)


class Redemption(models.Model):
    """One account's use of a promotion on one order (docs/plans.md "Promotions"). Taken by
    ``billing.promotions.promotion_redeem`` in the charge's transaction, under the account lock
    and then the promotion row's: ``seq`` numbers an account's redemptions of a promotion, so a
    per-account limit of 1 is also the unique key (promotion, account, 1)."""

    promotion = models.ForeignKey("plans.Promotion", on_delete=models.PROTECT, related_name="redemptions")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="redemptions")
    seq = models.PositiveIntegerField(help_text="this account's n-th redemption of the promotion")
    subject_type = models.CharField(max_length=40, help_text="the order family: purchase_order, ...")
    subject_id = models.CharField(max_length=64, help_text="the order's public id")
    first_period = models.PositiveIntegerField(default=1, help_text="the order's first discounted period")
    redeemed_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-redeemed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["promotion", "subject_type", "subject_id"], name="uniq_redemption_per_order"
            ),
            models.UniqueConstraint(
                fields=["promotion", "account", "seq"], name="uniq_redemption_account_seq"
            ),
        ]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    def __str__(self) -> str:
        return f"{self.promotion_id}:{self.subject_type}:{self.subject_id}"
