"""Package orders (docs/package-orders.md): one order buys instances of several products.

Each product instance owns one engine ``Subscription`` (kind ``package``); its billed components are
the subscription's ``SubscriptionLine`` rows. Bills are ``usage.UsageRecord`` rows. Billing jobs are
the hourly/postpaid lines themselves (``next_run_at``): no separate job table, because the line
already holds every piece of state a job needs (mode, price, clock, status).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = [
    "ConsumeOrder",
    "ConsumeOrderRecord",
    "ConsumeOrderStatus",
    "ConsumeOrderType",
    "InstanceStatus",
    "PackageOrder",
    "PackageOrderEvent",
    "PackageOrderStatus",
    "ProductInstance",
]


class PackageOrderStatus(models.TextChoices):
    UNPAID = "unpaid"
    PAID = "paid"
    CANCELED = "canceled"


class InstanceStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    CANCELED = "canceled"


class ConsumeOrderType(models.TextChoices):
    NEW = "new"
    RENEW = "renew"
    CHANGE = "change"


class ConsumeOrderStatus(models.TextChoices):
    UNPAID = "unpaid"
    PAID = "paid"
    CANCELED = "canceled"


class PackageOrder(models.Model):
    order_id = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="package_orders")
    app_id = models.CharField(max_length=100)
    order_user_name = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    extra_info = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=PackageOrderStatus.choices, default=PackageOrderStatus.UNPAID
    )
    cost = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    amount_payable = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    # issue 20.1: the create's ``coupon`` (redeemed by the charge) and what it took off ``cost``
    promotion = models.ForeignKey(
        "plans.Promotion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    discount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    ledger_entry = models.ForeignKey(
        "billing.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return self.order_id


class ProductInstance(models.Model):
    order = models.ForeignKey(PackageOrder, on_delete=models.CASCADE, related_name="instances")
    prod_id = models.CharField(max_length=50)
    prod_name = models.CharField(max_length=200, blank=True, default="")
    plan_id = models.CharField(max_length=50)
    attrs = models.JSONField(default=dict, blank=True, help_text="attribute values the order was priced with")
    # The order's account, copied so the client-chosen id is unique per account (issue 13): one
    # tenant can neither learn nor squat another's ids.
    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="+")
    prod_inst_id_ext = models.CharField(max_length=100)
    is_auto_renew = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=InstanceStatus.choices, default=InstanceStatus.PENDING)
    subscription = models.OneToOneField(
        "orders.Subscription", on_delete=models.PROTECT, related_name="product_instance"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "prod_inst_id_ext"], name="uniq_instance_ext_per_account"
            )
        ]

    def __str__(self) -> str:
        return self.prod_inst_id_ext


class ConsumeOrder(models.Model):
    """The seed's sub-order: the unpaid records paid together (``new``, ``renew``, ``change``)."""

    order = models.ForeignKey(PackageOrder, on_delete=models.CASCADE, related_name="consume_orders")
    instance = models.ForeignKey(
        ProductInstance, null=True, blank=True, on_delete=models.CASCADE, related_name="consume_orders"
    )
    type = models.CharField(max_length=8, choices=ConsumeOrderType.choices)
    status = models.CharField(
        max_length=10, choices=ConsumeOrderStatus.choices, default=ConsumeOrderStatus.UNPAID
    )
    amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    records = models.ManyToManyField(  # type: ignore[var-annotated]
        "usage.UsageRecord", through="ConsumeOrderRecord", related_name="consume_orders"
    )
    ledger_entry = models.ForeignKey(
        "billing.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order_id", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.type}#{self.pk}"


class ConsumeOrderRecord(models.Model):
    consume_order = models.ForeignKey(ConsumeOrder, on_delete=models.CASCADE, related_name="+")
    record = models.OneToOneField("usage.UsageRecord", on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.consume_order_id}:{self.record_id}"


class PackageOrderEvent(models.Model):
    """Append-only history of every state change of an order or one of its instances."""

    order = models.ForeignKey(PackageOrder, on_delete=models.CASCADE, related_name="events")
    instance = models.ForeignKey(
        ProductInstance, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    from_status = models.CharField(max_length=10, blank=True, default="")
    to_status = models.CharField(max_length=10, blank=True, default="")
    reason = models.CharField(max_length=50)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["order_id", "at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.reason} {self.from_status}->{self.to_status}"
