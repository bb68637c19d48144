"""Vehicle orders (DOMAIN.md 7, seed 004): plan, driver and sale orders in one table.

The three types share every column that lists and the state machine need; type-specific scalars
(quotation, promotion, service ratio, expected start, the sale order's plan) are nullable columns so
money stays ``Decimal`` and underwriting can read ``expect_at`` without parsing JSON; the driver ids
of a driver order, which nothing queries, live in ``extra``. Priced plan items are rows of
``VehicleOrderItem``. Every change appends a ``VehicleOrderEvent``. ``VehicleOrderOwnerCount`` keeps
each user's number of orders, so the unfiltered list's ``total`` needs no ``COUNT(*)`` (B5).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete
from django.utils import timezone

__all__ = [
    "VehicleOrder",
    "VehicleOrderDiscount",
    "VehicleOrderEvent",
    "VehicleOrderItem",
    "VehicleOrderNoCounter",
    "VehicleOrderOwnerCount",
    "VehicleOrderState",
    "VehicleOrderType",
]


class VehicleOrderType(models.IntegerChoices):
    PLAN = 0, "plan"
    DRIVER = 1, "driver"
    SALE = 2, "sale"


class VehicleOrderState(models.IntegerChoices):
    """The origin's later state codes (1..9)."""

    CREATED = 1, "created"
    PAID = 2, "paid"
    UNDERWRITTEN = 3, "underwritten"
    IN_FORCE = 4, "in force"
    EXPIRED = 5, "expired"
    VOIDED = 6, "voided"
    CANCELED = 7, "canceled"
    CANCELED_AFTER_PAYMENT = 8, "canceled after payment"
    CANCELED_AFTER_UNDERWRITING = 9, "canceled after underwriting"


class VehicleOrder(models.Model):
    order_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order_no = models.CharField(max_length=24, unique=True, editable=False)
    type = models.PositiveSmallIntegerField(choices=VehicleOrderType.choices)
    vid = models.UUIDField(help_text="vehicle id")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="vehicle_orders"
    )
    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="vehicle_orders")
    summary = models.DecimalField(max_digits=20, decimal_places=4)
    payment = models.DecimalField(max_digits=20, decimal_places=4)
    start_at = models.DateTimeField(null=True, blank=True)
    stop_at = models.DateTimeField(null=True, blank=True)
    state_code = models.PositiveSmallIntegerField(
        choices=VehicleOrderState.choices, default=VehicleOrderState.CREATED
    )
    state = models.CharField(max_length=40, default=VehicleOrderState.CREATED.label)
    # Type-specific data.
    qid = models.UUIDField(null=True, blank=True, help_text="quotation id (plan and sale orders)")
    pmid = models.UUIDField(null=True, blank=True, help_text="promotion id (plan orders)")
    service_ratio = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    expect_at = models.DateTimeField(null=True, blank=True, help_text="expected start (plan orders)")
    plan = models.ForeignKey(
        "plans.Plan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the plan of a sale order",
    )
    extra = models.JSONField(default=dict, blank=True, help_text="driver orders: {'dids': [...]}")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(summary__gte=0), name="vehicle_order_summary_gte_0"),
            models.CheckConstraint(
                condition=models.Q(payment__gte=0, payment__lte=models.F("summary")),
                name="vehicle_order_payment_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(state_code__gte=1, state_code__lte=9),
                name="vehicle_order_state_code_range",
            ),
            models.CheckConstraint(condition=models.Q(type__in=[0, 1, 2]), name="vehicle_order_type_range"),
        ]
        indexes = [
            # The user's list, newest updated first, and its three filters (API.md, B5).
            models.Index(fields=["owner", "updated_at", "id"], name="veh_ord_owner_upd"),
            models.Index(fields=["owner", "type", "updated_at", "id"], name="veh_ord_owner_type_upd"),
            models.Index(fields=["owner", "state_code", "updated_at", "id"], name="veh_ord_owner_state_upd"),
            models.Index(fields=["owner", "vid", "updated_at", "id"], name="veh_ord_owner_vid_upd"),
            # Staff list over everyone, and the beat's due scans.
            models.Index(fields=["updated_at", "id"], name="veh_ord_upd"),
            models.Index(fields=["state_code", "start_at"], name="veh_ord_state_start"),
            models.Index(fields=["state_code", "stop_at"], name="veh_ord_state_stop"),
        ]

    def __str__(self) -> str:
        return self.order_no

    @property
    def dids(self) -> list[str]:
        return list((self.extra or {}).get("dids", []))


class VehicleOrderItem(models.Model):
    """A priced plan item of a plan or sale order; name and plan are copied for history."""

    order = models.ForeignKey(VehicleOrder, on_delete=models.CASCADE, related_name="items")
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="+")
    plan_item = models.ForeignKey("plans.PlanItem", on_delete=models.PROTECT, related_name="+")
    piid = models.UUIDField()
    name = models.CharField(max_length=200, blank=True, default="")
    price = models.DecimalField(max_digits=20, decimal_places=4)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "piid"], name="uniq_vehicle_order_item_piid"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="vehicle_order_item_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.piid}"


class VehicleOrderDiscount(models.Model):
    """The line of a plan order's promotion (its ``pmid``, issue 20.1): the order's ``summary`` is
    ``gross`` (the sum of its items) less ``amount``. Redeemed when the order is paid (the charge's
    transaction and locks, ``orders.vehicle.transitions``)."""

    order = models.OneToOneField(VehicleOrder, on_delete=models.CASCADE, related_name="discount_line")
    promotion = models.ForeignKey("plans.Promotion", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=50, help_text="the promotion's code, copied for history")
    gross = models.DecimalField(max_digits=20, decimal_places=4, help_text="the sum of the items")
    amount = models.DecimalField(
        max_digits=20, decimal_places=4, help_text="taken off: summary = gross - amount"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gte=0) & models.Q(amount__lte=models.F("gross")),
                name="vehicle_order_discount_within_gross",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.code} -{self.amount}"


class VehicleOrderEvent(models.Model):
    """An append-only record of one change (placement, each transition, refunds, admin actions)."""

    order = models.ForeignKey(VehicleOrder, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=30)
    from_state = models.PositiveSmallIntegerField(choices=VehicleOrderState.choices, null=True, blank=True)
    to_state = models.PositiveSmallIntegerField(choices=VehicleOrderState.choices)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["order", "occurred_at", "id"], name="veh_ord_event_order")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.from_state}->{self.to_state}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("vehicle order events are never edited")
        super().save(*args, **kwargs)


class VehicleOrderNoCounter(models.Model):
    """One row per local day; ``UPDATE ... SET last = last + 1`` under the row lock numbers orders."""

    day = models.DateField(unique=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class VehicleOrderOwnerCount(models.Model):
    """How many vehicle orders a user owns: the unfiltered list's ``total`` without ``COUNT(*)`` (B5).

    Changed only in the transaction that inserts an order (``orders.vehicle.placing._create``) or
    deletes one (the ``post_delete`` receiver below), so it cannot disagree with the table for
    anything written through the ORM; a missing row means "not counted yet" and readers fall back to
    ``COUNT(*)``. Rows written around the ORM (raw imports) need
    ``orders.vehicle.counts.vehicle_order_counts_rebuild``. State changes do not touch it.
    """

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    total = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["owner"]

    def __str__(self) -> str:
        return f"{self.owner_id}: {self.total}"


def _uncount_deleted_order(sender: Any, instance: VehicleOrder, **kwargs: Any) -> None:
    # Runs inside the deleting transaction (``Collector.delete`` is atomic), for queryset deletes too.
    from orders.vehicle.bookmarks import bookmarks_forget_on_commit  # it imports this module

    VehicleOrderOwnerCount.objects.filter(owner_id=instance.owner_id).update(total=models.F("total") - 1)
    bookmarks_forget_on_commit((instance.owner_id,))  # the rows below it move up one


post_delete.connect(_uncount_deleted_order, sender=VehicleOrder, dispatch_uid="vehicle_order_owner_count")
