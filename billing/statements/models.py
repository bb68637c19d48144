"""Statements and credit notes (docs/statements.md): the documents finance sends and auditors check.

A document is written once, in the transaction that takes its number, and never changed: ``save``
on a stored row, ``delete`` and queryset ``update``/``delete`` all raise ``ImmutableDocument``. Its
PDF is a separate row (``DocumentPdf``), rendered once after issue and stored with its SHA-256, so
a re-download is byte-identical. Numbers come from ``DocumentSequence``: one counter row per
(document kind, year), locked ``FOR UPDATE`` in the issuing transaction, so a rolled-back issue
gives its number back and the sequence has no gaps (docs/statements.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class ImmutableDocument(Exception):
    """Issued statements, their lines, credit notes and stored PDFs are never changed or deleted."""


class ImmutableQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableDocument(f"{self.model.__name__} rows are immutable once issued")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableDocument(f"{self.model.__name__} rows are never deleted")


class ImmutableModel(models.Model):
    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableDocument(f"{type(self).__name__} {self.pk} is issued and cannot change")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableDocument(f"{type(self).__name__} {self.pk} is issued and cannot be deleted")


class DocumentKind(models.TextChoices):
    STATEMENT = "statement"
    CREDIT_NOTE = "credit_note"


class DocumentSequence(models.Model):
    """The last number handed out for one document kind and (local) issue year."""

    kind = models.CharField(max_length=12, choices=DocumentKind.choices)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "year"], name="uniq_document_sequence")]

    def __str__(self) -> str:
        return f"{self.kind} {self.year}: {self.last}"


class Statement(ImmutableModel):
    """One account's calendar month (``TALLY_TIME_ZONE``): opening balance + lines = closing balance
    = the ledger balance at ``period_end``."""

    number = models.CharField(max_length=32, unique=True)
    year = models.PositiveSmallIntegerField(help_text="the sequence's year (local issue year)")
    sequence = models.PositiveIntegerField()
    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="statements")
    namespace = models.CharField(max_length=50)
    currency = models.CharField(max_length=3)
    period = models.DateField(help_text="first day of the local calendar month")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(help_text="exclusive")
    opening_balance = models.DecimalField(max_digits=20, decimal_places=4)
    total_recharges = models.DecimalField(max_digits=20, decimal_places=4)
    total_charges = models.DecimalField(max_digits=20, decimal_places=4, help_text="signed (<= 0)")
    total_refunds = models.DecimalField(max_digits=20, decimal_places=4)
    total_adjustments = models.DecimalField(max_digits=20, decimal_places=4, help_text="signed")
    closing_balance = models.DecimalField(max_digits=20, decimal_places=4)
    entry_count = models.PositiveIntegerField(help_text="ledger entries of the period")
    free_quota = models.JSONField(default=list, help_text="[{service, total, used, paid_calls}]")
    credit_notes = models.JSONField(default=list, help_text="credit notes issued in the period")
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issue_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-period", "account_id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "period"], name="uniq_statement_account_period"),
            models.UniqueConstraint(fields=["year", "sequence"], name="uniq_statement_sequence"),
        ]
        indexes = [models.Index(fields=["period", "account"]), models.Index(fields=["issued_at"])]
        permissions = [("issue_statement", "Can issue a statement now (admin)")]

    def __str__(self) -> str:
        return self.number

    @property
    def total_lines(self) -> Any:
        return self.closing_balance - self.opening_balance


class StatementLine(ImmutableModel):
    """The period's ledger entries of one kind and one group (an order, a metered service at one
    unit price, a recharge, an adjustment), with the usage records' detail where there are any."""

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, help_text="ledger kind: recharge, charge, refund, adjustment")
    group_type = models.CharField(max_length=40, help_text="purchase_order, metered_service, recharge, ...")
    group_id = models.CharField(max_length=64)
    description = models.CharField(max_length=500, blank=True, default="")
    entry_count = models.PositiveIntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    quantity = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    unit_price = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    amount = models.DecimalField(max_digits=20, decimal_places=4, help_text="signed")
    details = models.JSONField(default=list, help_text="usage records: instance, period, quantity, price")

    class Meta:
        ordering = ["statement_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "position"], name="uniq_statement_line_position"),
        ]
        indexes = [models.Index(fields=["group_type", "group_id"])]

    def __str__(self) -> str:
        return f"line {self.position}"


class CreditNote(ImmutableModel):
    """Money given back (``ledger_entry``: a refund or a correction adjustment) for a period already
    on an issued ``statement``; ``lines`` are the statement lines it corrects."""

    number = models.CharField(max_length=32, unique=True)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="credit_notes")
    namespace = models.CharField(max_length=50)
    currency = models.CharField(max_length=3)
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="corrections")
    lines = models.ManyToManyField(StatementLine, blank=True, related_name="credit_notes")
    ledger_entry = models.OneToOneField(
        "billing.LedgerEntry", on_delete=models.PROTECT, related_name="credit_note"
    )
    amount = models.DecimalField(max_digits=20, decimal_places=4, help_text="money given back (> 0)")
    reason = models.CharField(max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["year", "sequence"], name="uniq_credit_note_sequence")]
        indexes = [models.Index(fields=["account", "issued_at"])]

    def __str__(self) -> str:
        return self.number


class DocumentPdf(ImmutableModel):
    """The PDF of one document, rendered once; ``sha256`` is of ``content``."""

    number = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=12, choices=DocumentKind.choices)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    rendered_at = models.DateTimeField()

    class Meta:
        verbose_name = "document PDF"

    def __str__(self) -> str:
        return f"{self.number}.pdf"


class StatementBatch(models.Model):
    """One slice of account ids of a period's issuance run. Workers take pending slices with
    ``SELECT ... FOR UPDATE SKIP LOCKED`` and issue them in that transaction, so several workers
    share a run without doing a slice twice; a crashed worker's slice rolls back and stays pending."""

    class State(models.TextChoices):
        PENDING = "pending"
        DONE = "done"

    period = models.DateField()
    first_account_id = models.BigIntegerField()
    last_account_id = models.BigIntegerField(help_text="inclusive")
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    issued = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "first_account_id"], name="uniq_statement_batch"),
        ]
        indexes = [models.Index(fields=["period", "state"])]
        verbose_name_plural = "statement batches"

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} [{self.first_account_id}..{self.last_account_id}] {self.state}"
