"""The catalog: plans with versioned prices, products with components and price rules, plan items
(vehicle plans) and metered services (docs/plans.md)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

ID_VALIDATOR = RegexValidator(r"^[A-Za-z0-9_-]{1,50}$", "use 1-50 letters, digits, '_' or '-'")
SLUG_VALIDATOR = RegexValidator(r"^[a-z0-9][a-z0-9_-]{0,49}$", "use a lower-case slug")


class BillingMode(models.TextChoices):
    PREPAID = "prepaid", "prepaid (fixed price per cycle, paid at the start)"
    HOURLY = "hourly", "hourly (price per hour, paid one hour ahead)"
    POSTPAID = "postpaid", "postpaid (unit price x metered quantity, billed after the cycle)"


class Cycle(models.TextChoices):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class PlanStatus(models.TextChoices):
    ACTIVE = "active"
    RETIRED = "retired"


class Product(models.Model):
    prod_id = models.CharField(max_length=50, unique=True, validators=[ID_VALIDATOR])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["prod_id"]

    def __str__(self) -> str:
        return self.prod_id


class Component(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="components")
    component_id = models.CharField(max_length=50, validators=[ID_VALIDATOR])
    name = models.CharField(max_length=200)
    billing_mode = models.CharField(max_length=10, choices=BillingMode.choices)
    cycle = models.CharField(max_length=5, choices=Cycle.choices)
    unit = models.CharField(max_length=30, default="instance")

    class Meta:
        ordering = ["product_id", "component_id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "component_id"], name="uniq_component_per_product"),
        ]

    def __str__(self) -> str:
        return f"{self.product.prod_id}/{self.component_id}"


class Plan(models.Model):
    plan_id = models.CharField(max_length=50, unique=True, validators=[ID_VALIDATOR])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    plan_type = models.CharField(max_length=50, validators=[SLUG_VALIDATOR], db_index=True)
    # Blank region means "every region".
    region = models.CharField(max_length=50, blank=True, default="", db_index=True)
    # Plans priced by component rules (a product's plan) leave mode and cycle to their components.
    billing_mode = models.CharField(max_length=10, choices=BillingMode.choices, blank=True, default="")
    cycle = models.CharField(max_length=5, choices=Cycle.choices, blank=True, default="")
    unit = models.CharField(max_length=30, blank=True, default="instance")
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="plans"
    )
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan_id"]

    def __str__(self) -> str:
        return self.plan_id

    @property
    def is_active(self) -> bool:
        return self.status == PlanStatus.ACTIVE

    def serves_region(self, region: str) -> bool:
        return not self.region or self.region == region


class PriceVersion(models.Model):
    """The price of a plan from ``effective_from`` on (until the next version)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="price_versions")
    price = models.DecimalField(max_digits=20, decimal_places=4, validators=[MinValueValidator(0)])
    effective_from = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    forced = models.BooleanField(default=False, help_text="published less than one cycle ahead by staff")
    # Set (once) by the first charge that used this version; a used version is never edited.
    first_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan_id", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "effective_from"], name="uniq_price_version_start"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="price_version_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.price} from {self.effective_from:%Y-%m-%d %H:%M}"


class PriceRule(models.Model):
    """The price of one component of a product's plan when the attributes match ``attrs``."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="rules")
    component = models.ForeignKey(Component, on_delete=models.PROTECT, related_name="rules")
    attrs = models.JSONField(default=dict, blank=True)
    price = models.DecimalField(max_digits=20, decimal_places=4, validators=[MinValueValidator(0)])
    effective_from = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    first_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan_id", "component_id", "effective_from", "id"]
        indexes = [models.Index(fields=["plan", "component", "effective_from"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="price_rule_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}/{self.component.component_id} {self.attrs} = {self.price}"

    def matches(self, attributes: dict) -> bool:
        return all(_same_value(attributes.get(key), value) for key, value in (self.attrs or {}).items())


def _same_value(given: object, wanted: object) -> bool:
    if given is None:
        return False
    return str(given) == str(wanted)


class PlanItem(models.Model):
    """A priced item of a vehicle plan (seed 004's ``piid``)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="items")
    piid = models.UUIDField(unique=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=20, decimal_places=4, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["plan_id", "name"]

    def __str__(self) -> str:
        return f"{self.plan_id}/{self.name}"


class MeteredService(models.Model):
    """A pay-per-call service (seed 003) with a unit price and a monthly free quota."""

    service = models.CharField(max_length=50, unique=True, validators=[ID_VALIDATOR])
    unit_price = models.DecimalField(max_digits=20, decimal_places=4, validators=[MinValueValidator(0)])
    monthly_free_quota = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["service"]

    def __str__(self) -> str:
        return self.service


class PromotionKind(models.TextChoices):
    PERCENT = "percent", "percent off"
    AMOUNT = "amount", "fixed amount off"


class PromotionDuration(models.TextChoices):
    ONCE = "once", "the first charged period only"
    PERIODS = "periods", "the first N charged periods"
    FOREVER = "forever", "every charged period"


class PromotionStatus(models.TextChoices):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Promotion(models.Model):
    """A discount staff offer (docs/plans.md "Promotions"): redeemed by ``code`` (a ``coupon``) or
    by ``pmid`` (seed 004's vehicle plan orders). What it applies to is four lists of targets; an
    order's plan matches when any list names it (all four empty: every plan). Redemptions are
    ``billing.Redemption`` rows, taken under the charge's account lock."""

    pmid = models.UUIDField(unique=True, default=uuid.uuid4, help_text="promotion id (seed 004's pmid)")
    code = models.CharField(max_length=50, unique=True, validators=[ID_VALIDATOR], help_text="the coupon")
    name = models.CharField(max_length=200, blank=True, default="")
    kind = models.CharField(max_length=8, choices=PromotionKind.choices)
    value = models.DecimalField(
        max_digits=20, decimal_places=4, help_text="percent (0-100] or amount off each covered period"
    )
    plan_ids = models.JSONField(default=list, blank=True, help_text="plan ids (vehicle plans too)")
    plan_types = models.JSONField(default=list, blank=True)
    products = models.JSONField(default=list, blank=True, help_text="product ids (every component)")
    components = models.JSONField(default=list, blank=True, help_text='"prod_id/component_id"')
    valid_from = models.DateTimeField(null=True, blank=True, help_text="redeemable from (empty: now)")
    valid_until = models.DateTimeField(null=True, blank=True, help_text="redeemable before (empty: no end)")
    duration = models.CharField(
        max_length=8, choices=PromotionDuration.choices, default=PromotionDuration.ONCE
    )
    duration_periods = models.PositiveIntegerField(null=True, blank=True, help_text="N, for 'periods'")
    max_redemptions = models.PositiveIntegerField(
        null=True, blank=True, help_text="in total (empty: no limit)"
    )
    max_per_account = models.PositiveIntegerField(null=True, blank=True, help_text="empty: no limit")
    status = models.CharField(max_length=10, choices=PromotionStatus.choices, default=PromotionStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(value__gt=0), name="promotion_value_positive"),
            models.CheckConstraint(
                condition=~models.Q(kind="percent") | models.Q(value__lte=100),
                name="promotion_percent_le_100",
            ),
            models.CheckConstraint(
                condition=(models.Q(duration="periods") & models.Q(duration_periods__gte=1))
                | (~models.Q(duration="periods") & models.Q(duration_periods__isnull=True)),
                name="promotion_periods_iff_n",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_from__isnull=True)
                | models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gt=models.F("valid_from")),
                name="promotion_window_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(max_redemptions__isnull=True) | models.Q(max_redemptions__gte=1),
                name="promotion_max_redemptions_ge_1",
            ),
            models.CheckConstraint(
                condition=models.Q(max_per_account__isnull=True) | models.Q(max_per_account__gte=1),
                name="promotion_max_per_account_ge_1",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.code = promotion_code(self.code)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.code = promotion_code(self.code or "")
        for name in ("plan_ids", "plan_types", "products", "components"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValidationError({name: "must be a list of ids"})
        if self.duration != PromotionDuration.PERIODS:
            self.duration_periods = None


def promotion_code(code: str) -> str:
    """Coupon codes match whatever the case (``save10`` is ``SAVE10``) on every database."""
    return code.strip().upper()
