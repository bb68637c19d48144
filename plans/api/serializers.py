"""Serializers of the catalog API (docs/plans.md "API"). Money is a 4-place decimal string."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from config.api.fields import MoneyField
from plans.models import (
    ID_VALIDATOR,
    SLUG_VALIDATOR,
    BillingMode,
    Component,
    Cycle,
    Plan,
    PlanStatus,
    Product,
)

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset; a naive time is refused rather than guessed."""

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise serializers.ValidationError("must be an ISO 8601 time string with offset")
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise serializers.ValidationError("not an ISO 8601 time, e.g. 2026-01-01T00:00:00Z")
        if parsed.tzinfo is None:
            raise serializers.ValidationError("must carry a UTC offset, e.g. 2026-01-01T00:00:00Z")
        try:
            in_utc = parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            in_utc = None
        if in_utc is None or not EARLIEST <= in_utc <= LATEST:
            raise serializers.ValidationError("must be between 2000-01-01 and 9000-01-01")
        return in_utc


class PriceVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    price = MoneyField()
    effective_from = serializers.DateTimeField()
    forced = serializers.BooleanField()
    created_by = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    used = serializers.SerializerMethodField()
    first_used_at = serializers.DateTimeField(allow_null=True)

    def get_created_by(self, obj: Any) -> str | None:
        return obj.created_by.username if obj.created_by_id else None

    def get_used(self, obj: Any) -> bool:
        return obj.first_used_at is not None


class PriceRuleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    component_id = serializers.CharField(source="component.component_id")
    attrs = serializers.JSONField()
    price = MoneyField()
    effective_from = serializers.DateTimeField()
    used = serializers.SerializerMethodField()

    def get_used(self, obj: Any) -> bool:
        return obj.first_used_at is not None


class PlanItemSerializer(serializers.Serializer):
    piid = serializers.UUIDField()
    name = serializers.CharField()
    price = MoneyField()


class PlanSerializer(serializers.ModelSerializer):
    region = serializers.SerializerMethodField(help_text="null: every region")
    prod_id = serializers.SerializerMethodField()
    price = MoneyField(allow_null=True, read_only=True, help_text="the price in force now (null if none)")

    class Meta:
        model = Plan
        fields = [
            "plan_id",
            "name",
            "description",
            "plan_type",
            "region",
            "billing_mode",
            "cycle",
            "unit",
            "status",
            "prod_id",
            "price",
            "created_at",
            "updated_at",
        ]

    def get_region(self, obj: Plan) -> str | None:
        return obj.region or None

    def get_prod_id(self, obj: Plan) -> str | None:
        return obj.product.prod_id if obj.product else None


class PlanDetailSerializer(PlanSerializer):
    price_versions = PriceVersionSerializer(many=True, read_only=True)
    rules = PriceRuleSerializer(many=True, read_only=True)
    items = PlanItemSerializer(many=True, read_only=True)

    class Meta(PlanSerializer.Meta):
        fields = [*PlanSerializer.Meta.fields, "price_versions", "rules", "items"]


class PlanWriteSerializer(serializers.Serializer):
    plan_id = serializers.CharField(max_length=50, validators=[ID_VALIDATOR])
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    plan_type = serializers.CharField(max_length=50, validators=[SLUG_VALIDATOR])
    region = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=50)
    billing_mode = serializers.ChoiceField(choices=BillingMode.choices, required=False, allow_blank=True)
    cycle = serializers.ChoiceField(choices=Cycle.choices, required=False, allow_blank=True)
    unit = serializers.CharField(required=False, allow_blank=True, max_length=30)
    prod_id = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=50)
    status = serializers.ChoiceField(choices=PlanStatus.choices, required=False)


def reject_unknown(serializer: serializers.Serializer, data: Any, *, read_only: tuple[str, ...] = ()) -> None:
    """DRF silently drops unknown keys; a typo should be a 3307 naming the key instead."""
    if not isinstance(data, dict):
        return
    allowed = set(serializer.fields) - set(read_only)
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise serializers.ValidationError({k: ["unknown or read-only field"] for k in unknown})


class PriceVersionCreateSerializer(serializers.Serializer):
    price = MoneyField(min_value=Decimal(0))
    effective_from = AwareDateTimeField()
    force = serializers.BooleanField(required=False, default=False)


class ComponentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Component
        fields = ["component_id", "name", "billing_mode", "cycle", "unit"]


class ProductSerializer(serializers.ModelSerializer):
    components = ComponentSerializer(many=True, read_only=True)
    plans = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["prod_id", "name", "description", "components", "plans"]

    def get_plans(self, obj: Product) -> list[str]:
        return [p.plan_id for p in obj.plans.all()]


class CostComponentRequestSerializer(serializers.Serializer):
    component_id = serializers.CharField(max_length=50)
    attrs = serializers.DictField(required=False, default=dict)


class CostRequestSerializer(serializers.Serializer):
    prod_id = serializers.CharField(max_length=50)
    plan_id = serializers.CharField(max_length=50)
    components = CostComponentRequestSerializer(many=True, allow_empty=False)

    def validate_components(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > 100:
            raise serializers.ValidationError("at most 100 components")
        return value


class CostComponentSerializer(serializers.Serializer):
    component_id = serializers.CharField()
    billing_mode = serializers.CharField()
    cycle = serializers.CharField()
    unit = serializers.CharField()
    price = MoneyField()


class CostSerializer(serializers.Serializer):
    components = CostComponentSerializer(many=True)
    total = MoneyField()


class SyncRequestSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(required=False, default=False)
    force = serializers.BooleanField(required=False, default=False)


class ImportReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    created = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    retired = serializers.ListField(child=serializers.CharField())
    new_versions = serializers.ListField(child=serializers.CharField())
    removed_versions = serializers.ListField(child=serializers.CharField())
    kept_used = serializers.ListField(child=serializers.CharField())


ERROR_MEANINGS = {
    400: "3307 invalid parameters (data.errors names each field) or a 36xx catalog error",
    401: "3305 no or bad credentials",
    403: "3306 staff only",
    404: "3601 plan / 3606 product not found",
    409: "3602 plan exists / 3610 price version used",
    503: "3608 plan service failed, catalog unchanged",
}


# The error envelope: ``code`` (36xx/33xx), ``msg``, ``data.errors`` {field: [reasons]}.
ErrorSerializer = inline_serializer(
    name="PlansError",
    fields={
        "code": serializers.IntegerField(),
        "msg": serializers.CharField(),
        "data": serializers.JSONField(required=False),
    },
)


def error_responses(*statuses: int) -> dict[int, Any]:
    return {s: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[s]) for s in statuses}
