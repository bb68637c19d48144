"""Consumption history and meter events.

``usage`` sits below ``orders``: a usage record names what it belongs to by reference
(``source``, ``order_ref``, ``line_id`` = ``orders.SubscriptionLine`` pk) rather than by a foreign key
upward, so the import and migration graph keeps its direction.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction


class UsageKind(models.TextChoices):
    NEW = "new"
    RENEW = "renew"
    SWITCH = "switch"
    END = "end"
    HOURLY = "hourly"
    USAGE = "usage"
    REFUND = "refund"
    CHANGE = "change"
    # a late or voided meter event of a period already billed (``corrects`` names that period's record)
    CORRECTION = "correction"


class UsageStatus(models.TextChoices):
    UNPAID = "unpaid"
    PAID = "paid"
    ARREARS = "arrears"
    CANCELED = "canceled"


class UsageSource(models.TextChoices):
    PURCHASE = "purchase"
    PACKAGE = "package"


class UsageRecordQuerySet(models.QuerySet["UsageRecord"]):
    """Every bulk write of records keeps the rollups (``usage.rollups``) in its transaction."""

    def update(self, **kwargs: Any) -> int:
        from usage import rollups

        if not rollups.ROLLED_FIELDS & kwargs.keys():
            return super().update(**kwargs)
        return rollups.tracked_update(self, kwargs)

    update.alters_data = True  # type: ignore[attr-defined]

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[UsageRecord]:
        from usage import rollups

        if kwargs.get("ignore_conflicts") or kwargs.get("update_conflicts"):
            raise NotImplementedError("usage records: a conflict would leave the rollups unknowable")
        with transaction.atomic(using=self.db, savepoint=False):
            created = super().bulk_create(objs, *args, **kwargs)
            rollups.added(created)
        return created

    bulk_create.alters_data = True  # type: ignore[attr-defined]

    def delete(self) -> tuple[int, dict[str, int]]:
        from usage import rollups

        with transaction.atomic(using=self.db, savepoint=False):
            before = rollups.snapshot(self.values_list("pk", flat=True), lock=True)
            result = super().delete()
            rollups.removed(before)
        return result

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]


class UsageRecord(models.Model):
    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="usage_records")
    source = models.CharField(max_length=10, choices=UsageSource.choices)
    order_ref = models.CharField(max_length=64, help_text="public id of the purchase or package order")
    line_id = models.BigIntegerField(help_text="orders.SubscriptionLine id billed by this record")
    # One record per (line, period_key): "p:<period start>" for a billed period, other keys for
    # refunds/changes. MySQL has no partial unique index, so the key carries the distinction.
    period_key = models.CharField(max_length=80)
    region = models.CharField(max_length=50, blank=True, default="")
    plan = models.ForeignKey("plans.Plan", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    price_version = models.ForeignKey(
        "plans.PriceVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="usage_records"
    )
    price_rule = models.ForeignKey(
        "plans.PriceRule", null=True, blank=True, on_delete=models.PROTECT, related_name="usage_records"
    )
    component_id = models.CharField(max_length=50, blank=True, default="")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    quantity = models.DecimalField(max_digits=20, decimal_places=4, default=1)
    unit_price = models.DecimalField(max_digits=20, decimal_places=4)
    amount = models.DecimalField(max_digits=20, decimal_places=4, help_text="negative for a refund or credit")
    # issue 20: what a promotion took off; ``amount`` is what was charged (net), gross = amount +
    # discount. An instant ADD COLUMN on MariaDB; no CHECK (validating one copies a million rows).
    # db_default too: a row written by plain SQL (the benchmarks' baselines) that does not name
    # the column still gets 0
    discount = models.DecimalField(max_digits=20, decimal_places=4, default=0, db_default=0)
    kind = models.CharField(max_length=10, choices=UsageKind.choices)
    status = models.CharField(max_length=8, choices=UsageStatus.choices, default=UsageStatus.UNPAID)
    ledger_entry = models.ForeignKey(
        "billing.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="usage_records"
    )
    # A ``correction``: the record of the period it corrects (docs/package-orders.md, "Late and
    # voided events"); its period_key "c:<that record>:<l|v><first event id>" is unique per batch.
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    objects = UsageRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["line_id", "period_key"], name="uniq_usage_per_line_period"),
        ]
        indexes = [
            models.Index(fields=["account", "period_start"]),
            models.Index(fields=["order_ref", "period_start"]),
            models.Index(fields=["account", "status"]),
            models.Index(fields=["period_start", "account"]),
            # the usage history of an account, newest first, paged in the database
            models.Index(fields=["account", "created_at"], name="usage_account_created"),
            # reports: records paid without a ledger entry, and arrears, by status and moment
            models.Index(fields=["status", "paid_at"], name="usage_status_paid_at"),
            # the admin list, newest period first, whole or by status (B8: no sort of a million rows)
            models.Index(fields=["period_start"], name="usage_period_start"),
            models.Index(fields=["status", "period_start"], name="usage_status_period_start"),
            # the region filter's choices: DISTINCT read from the index, not from a million rows
            models.Index(fields=["region"], name="usage_region"),
        ]

    def __str__(self) -> str:
        return f"{self.order_ref} {self.kind} {self.amount} [{self.period_start:%Y-%m-%d %H:%M}]"

    def save(self, *args: Any, **kwargs: Any) -> None:
        from usage import rollups

        with transaction.atomic(savepoint=False):
            if self._state.adding:
                super().save(*args, **kwargs)
                rollups.added([self])
                return
            before = rollups.snapshot([self.pk], lock=True)
            super().save(*args, **kwargs)
            rollups.changed(before, rollups.snapshot([self.pk]))

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        from usage import rollups

        with transaction.atomic(savepoint=False):
            before = rollups.snapshot([self.pk], lock=True)
            result = super().delete(*args, **kwargs)
            rollups.removed(before)
        return result

    @classmethod
    def rows_inserted(cls, objs: Any) -> None:
        """``config.bulk_insert.rows_insert`` wrote ``objs`` (the renewal chunk): roll them up."""
        from usage import rollups

        rollups.added(objs)


class RollupGrain(models.TextChoices):
    DAY = "d"
    MONTH = "m"


class UsageRollup(models.Model):
    """The sums (amount, discount) and count of the usage records of one bucket (``usage.rollups``):
    a local day (or month) of the records' moment x account x order x region x plan x kind x
    status. Reports read these instead of the records; only ``usage.rollups`` writes them."""

    grain = models.CharField(max_length=1, choices=RollupGrain.choices)
    day = models.DateField(help_text="local day of TALLY_TIME_ZONE (grain d), or its month's 1st (grain m)")
    account = models.ForeignKey(
        "billing.Account", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    source = models.CharField(max_length=10)
    order_ref = models.CharField(max_length=64)
    region = models.CharField(max_length=50, blank=True, default="")
    plan_key = models.BigIntegerField(default=0, help_text="plans.Plan pk of the records, 0 for none")
    kind = models.CharField(max_length=12)
    status = models.CharField(max_length=8)
    amount_units = models.BigIntegerField(default=0, help_text="sum of the amounts in units of 1/10000")
    # issue 20: the records' ``discount`` beside their (net) amount, so a report shows gross,
    # discount and net from the rollups alone; db_default: the benchmarks write rows by plain SQL
    discount_units = models.BigIntegerField(
        default=0, db_default=0, help_text="sum of the discounts in units of 1/10000"
    )
    records = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "grain",
                    "day",
                    "account",
                    "source",
                    "order_ref",
                    "region",
                    "plan_key",
                    "kind",
                    "status",
                ],
                name="uniq_usage_rollup_bucket",
            ),
        ]
        indexes = [models.Index(fields=["account", "grain", "day"], name="usage_rollup_account_day")]

    def __str__(self) -> str:
        return f"{self.grain} {self.day} {self.order_ref} {self.status} {self.records}"


class MeterEvent(models.Model):
    """One metered quantity reported by a client; ``event_id`` makes a resend harmless.

    ``billed_record_id`` is the usage record that billed it (set once, by the billing of its period
    or by a correction): an event is billed at most once. ``late``: its period had been billed when
    it arrived (a correction bills it). ``voided_at``: voided by the client (never billed after;
    refunded by a negative correction if it was)."""

    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="meter_events")
    event_id = models.CharField(max_length=100)
    line_id = models.BigIntegerField(help_text="orders.SubscriptionLine id the quantity belongs to")
    instance_ref = models.CharField(max_length=100)
    component_id = models.CharField(max_length=50, blank=True, default="")
    quantity = models.DecimalField(max_digits=20, decimal_places=4)
    timestamp = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    billed_record_id = models.BigIntegerField(
        null=True, blank=True, help_text="usage.UsageRecord id that billed this event"
    )
    late = models.BooleanField(default=False, help_text="its period was billed when it arrived")
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "event_id"], name="uniq_meter_event_per_account"),
        ]
        indexes = [
            models.Index(fields=["line_id", "timestamp"]),
            # a record's events (billed_record_id = X), and the late ones still to bill (NULL, true)
            models.Index(fields=["billed_record_id", "late"], name="meter_event_billed_late"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.instance_ref}/{self.component_id} {self.quantity}"


class AuditRun(models.Model):
    """One run of the ledger audit (``usage.audit``): when, over what, what it found. Written by
    the nightly beat job and by ``manage.py audit_ledger``; the admin dashboard shows the last."""

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()
    source = models.CharField(max_length=20, help_text="beat or command")
    namespace = models.CharField(max_length=50, blank=True, default="", help_text="empty: every account")
    entries = models.PositiveBigIntegerField(default=0, help_text="ledger entries read")
    findings = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text="findings per check")
    sample = models.JSONField(default=list, blank=True, help_text="the first findings")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"audit {self.started_at:%Y-%m-%d %H:%M} {'ok' if self.ok else f'{self.findings} finding(s)'}"

    @property
    def ok(self) -> bool:
        return self.findings == 0

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()
