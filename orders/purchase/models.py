"""Purchase orders of ``/usageapi/v1`` (docs/purchase-orders.md).

One purchase order opens one service instance and owns one ``Subscription`` (kind ``purchase``) with
one line: the engine bills the line, the order carries the origin's public fields and status codes.
Every status change goes through ``orders.purchase.transitions.order_transition`` which appends a
``PurchaseOrderEvent``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

__all__ = [
    "RESOURCE_NAME_VALIDATOR",
    "PurchaseOrder",
    "PurchaseOrderEndReason",
    "PurchaseOrderEvent",
    "PurchaseOrderStatus",
]

RESOURCE_NAME_VALIDATOR = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "lower-case letters, digits and '-', starting and ending alphanumeric"
)


class PurchaseOrderStatus(models.IntegerChoices):
    """The origin's numeric codes; the API shows the label."""

    PENDING = 0, "pending"
    CONSUMING = 5, "consuming"
    RENEWALFAILED = 7, "renewalfailed"
    ENDED = 15, "ended"

    @classmethod
    def from_label(cls, label: str) -> PurchaseOrderStatus | None:
        """``renewfailed`` is the origin's older spelling, still accepted in queries."""
        label = {"renewfailed": "renewalfailed"}.get(label, label)
        for member in cls:
            if member.label == label:
                return member
        return None


class PurchaseOrderEndReason(models.TextChoices):
    CANCELED = "canceled"
    CANCELED_REFUNDED = "canceled_refunded"
    RENEWAL_FAILED = "renewal_failed"
    SWITCHED = "switched"


class PurchaseOrder(models.Model):
    order_id = models.CharField(max_length=32, unique=True, help_text="public, sortable id ('PO...')")
    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="purchase_orders")
    region = models.CharField(max_length=50)
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="purchase_orders")
    quantities = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    resource_name = models.CharField(
        max_length=30, blank=True, default="", validators=[RESOURCE_NAME_VALIDATOR], db_index=True
    )
    parameters = models.JSONField(default=dict, blank=True)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    start_time = models.DateTimeField()
    deadline = models.DateTimeField(null=True, blank=True, help_text="end of the paid period")
    end_time = models.DateTimeField(null=True, blank=True)
    status = models.PositiveSmallIntegerField(
        choices=PurchaseOrderStatus.choices, default=PurchaseOrderStatus.PENDING
    )
    end_reason = models.CharField(
        max_length=20, choices=PurchaseOrderEndReason.choices, blank=True, default=""
    )
    last_renew_fail_notified_at = models.DateTimeField(null=True, blank=True)
    subscription = models.OneToOneField(
        "orders.Subscription", null=True, blank=True, on_delete=models.PROTECT, related_name="purchase_order"
    )
    switched_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="switched_to"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_time", "-id"]
        indexes = [
            models.Index(fields=["account", "status", "-start_time"]),
            models.Index(fields=["account", "region", "status"]),
            # the admin list, newest first, whole or by status (B8: no sort of a million rows)
            models.Index(fields=["start_time"], name="po_start_time"),
            models.Index(fields=["status", "start_time"], name="po_status_start_time"),
            models.Index(fields=["region"], name="po_region"),  # the region filter's choices (B8)
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantities__gte=1), name="po_quantities_ge_1"),
        ]

    def __str__(self) -> str:
        return self.order_id

    @property
    def status_label(self) -> str:
        return PurchaseOrderStatus(self.status).label


class PurchaseOrderEvent(models.Model):
    """Append-only history: one row per status change (and per money action on the order)."""

    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    time = models.DateTimeField()
    from_status = models.PositiveSmallIntegerField(choices=PurchaseOrderStatus.choices, null=True, blank=True)
    to_status = models.PositiveSmallIntegerField(choices=PurchaseOrderStatus.choices)
    reason = models.CharField(max_length=50, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["order_id", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} -> {self.to_status} ({self.reason})"
