"""The subscription engine's tables, shared by purchase orders and package orders.

A ``Subscription`` is one running thing an account pays for (a purchase order's instance, or a
package order's product instance). Each billed part is a ``SubscriptionLine`` (a purchase order has
one; a package instance has one per component) with its own billing mode, price and billing clock.
Periods are anchored on ``anchor``: the k-th period ends at ``config.clock.add_cycles(anchor, cycle, k)``,
so month ends never drift (Jan 31 -> Feb 28 -> Mar 31).
"""

from __future__ import annotations

from django.db import models

from plans.models import BillingMode, Cycle

__all__ = ["LineStatus", "Subscription", "SubscriptionKind", "SubscriptionLine", "SubscriptionStatus"]


class SubscriptionKind(models.TextChoices):
    PURCHASE = "purchase"
    PACKAGE = "package"


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending"  # created, first period not paid yet
    BILLING = "billing"  # running and billed
    PAUSED = "paused"  # not billed until resumed
    SUSPENDED = "suspended"  # an hourly charge failed
    STOPPED = "stopped"  # stopped by the customer, settled
    ENDED = "ended"
    CANCELED = "canceled"  # canceled before it was ever paid


class LineStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    CANCELED = "canceled"


class Subscription(models.Model):
    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="subscriptions")
    kind = models.CharField(max_length=10, choices=SubscriptionKind.choices)
    order_ref = models.CharField(max_length=64, db_index=True, help_text="public id of the owning order")
    status = models.CharField(
        max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING
    )
    anchor = models.DateTimeField(help_text="start of the first period; every period end derives from it")
    auto_renew = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind}:{self.order_ref}#{self.pk}"


class SubscriptionLine(models.Model):
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="lines")
    component_id = models.CharField(max_length=50, blank=True, default="")
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="+")
    billing_mode = models.CharField(max_length=10, choices=BillingMode.choices)
    cycle = models.CharField(max_length=5, choices=Cycle.choices)
    attrs = models.JSONField(default=dict, blank=True)
    quantity = models.DecimalField(max_digits=20, decimal_places=4, default=1)
    # The price rule (component pricing) used at creation; prepaid periods re-price at each start.
    price_rule = models.ForeignKey(
        "plans.PriceRule", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    price = models.DecimalField(max_digits=20, decimal_places=4, help_text="price per cycle (or per unit)")
    status = models.CharField(max_length=10, choices=LineStatus.choices, default=LineStatus.PENDING)
    periods_billed = models.PositiveIntegerField(default=0, help_text="periods charged since the anchor")
    paid_until = models.DateTimeField(null=True, blank=True, help_text="end of the last paid period")
    # When the billing engine must next look at this line (renewal or billing job); indexed for the
    # periodic chunked scan with SKIP LOCKED.
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["subscription_id", "id"]
        indexes = [models.Index(fields=["billing_mode", "status", "next_run_at"])]

    def __str__(self) -> str:
        return f"line#{self.pk} {self.billing_mode} {self.component_id or self.plan_id}"
