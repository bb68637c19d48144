"""Serializers of ``/usageapi/v1``: the origin's field names, money as 2-place strings."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from config.api.fields import Money2Field as _Money2Field
from orders.engine.models import SubscriptionLine
from orders.purchase.models import PurchaseOrder, PurchaseOrderStatus
from plans.catalog.fields import ID_RE


@extend_schema_field({"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "12.50"})
class Money2Field(_Money2Field):
    """``config.api.fields.Money2Field`` with its schema (a 2-place decimal string)."""


class PurchaseOrderSerializer(serializers.ModelSerializer):
    """The order as the API shows it (docs/purchase-orders.md); ``end_time`` only once the order has ended."""

    namespace = serializers.CharField(source="account.namespace", read_only=True)
    plan_id = serializers.CharField(source="plan.plan_id", read_only=True)
    plan_type = serializers.CharField(source="plan.plan_type", read_only=True)
    status = serializers.SerializerMethodField()
    creator = serializers.SerializerMethodField()
    end_time = serializers.DateTimeField(read_only=True, required=False)
    deadline = serializers.SerializerMethodField()

    class Meta:
        model = PurchaseOrder
        fields = [
            "id",
            "order_id",
            "namespace",
            "region",
            "quantities",
            "plan_id",
            "plan_type",
            "resource_name",
            "start_time",
            "deadline",
            "end_time",
            "status",
            "creator",
        ]
        read_only_fields = fields

    def get_status(self, obj: PurchaseOrder) -> str:
        return PurchaseOrderStatus(obj.status).label

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_deadline(self, obj: PurchaseOrder) -> str | None:
        """End of the paid period. Hourly/postpaid lines are advanced by the billing-jobs runner, so
        the line's ``paid_until`` wins when it is later than the stored deadline."""
        deadline = obj.deadline
        if obj.plan.billing_mode != "prepaid" and obj.subscription_id:
            paid = getattr(obj, "line_paid_until", None)
            if not hasattr(obj, "line_paid_until"):
                paid = (
                    SubscriptionLine.objects.filter(subscription_id=obj.subscription_id)
                    .order_by("id")
                    .values_list("paid_until", flat=True)
                    .first()
                )
            if paid is not None and (deadline is None or paid > deadline):
                deadline = paid
        return None if deadline is None else serializers.DateTimeField().to_representation(deadline)

    def get_creator(self, obj: PurchaseOrder) -> str:
        return obj.creator.get_username() if obj.creator_id and obj.creator else ""

    def to_representation(self, instance: PurchaseOrder) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.status != PurchaseOrderStatus.ENDED:
            data.pop("end_time", None)
        return data


class PurchaseOrderListItemSerializer(PurchaseOrderSerializer):
    """One element of ``GET /usageapi/v1/orders``: ORDER's fields flat (Tally's clients) and the
    same object under ``order`` (the origin's shape: ``data.results[0].order.id``)."""

    order = serializers.SerializerMethodField(
        help_text="the same ORDER as the flat fields beside it (the origin's list shape)"
    )

    class Meta(PurchaseOrderSerializer.Meta):
        fields = [*PurchaseOrderSerializer.Meta.fields, "order"]
        read_only_fields = fields

    @extend_schema_field(PurchaseOrderSerializer)
    def get_order(self, obj: PurchaseOrder) -> None:
        return None  # filled in by to_representation from the flat fields (computed once)

    def to_representation(self, instance: PurchaseOrder) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["order"] = {k: v for k, v in data.items() if k != "order"}
        return data


# --- input: the origin's checks and words, every problem at once (3307) ----------------------------

RESOURCE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_QUANTITIES = 10000
ACTIONS = ("cancel", "renew", "modify")


def resource_name_problems(name: Any) -> list[str]:
    """What is wrong with a resource name (none for ``None`` or ``""``: no name)."""
    if name is None or name == "":
        return []
    if not isinstance(name, str):
        return ["must be a string"]
    problems = ["at most 30 characters"] if len(name) > 30 else []
    if not RESOURCE_NAME_RE.match(name):
        problems.append("lower-case letters, digits and '-', starting and ending with a letter or digit")
    return problems


class OriginBodyField(serializers.Field):
    """A field of a ``/usageapi`` body checked as the origin checks it: absent and ``null`` are the
    same (``None``), the value reaches ``to_internal_value`` as sent (nothing coerced first), and a
    problem is said in the origin's words. Errors flatten to the envelope's ``data.errors``
    (``config.api.validation.flatten_errors``) with the view's 3307."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_null=True, **kwargs)

    def run_validation(self, data: Any = empty) -> Any:
        return self.to_internal_value(None if data is empty else data)

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"type": "string", "maxLength": 50})
class RegionField(OriginBodyField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or not data.strip():
            raise serializers.ValidationError("required")
        if len(data) > 50:
            raise serializers.ValidationError("at most 50 characters")
        return data.strip()


@extend_schema_field({"type": "string", "maxLength": 50})
class PlanIdField(OriginBodyField):
    def to_internal_value(self, data: Any) -> str:
        if data in (None, "") or not isinstance(data, str | int) or isinstance(data, bool):
            raise serializers.ValidationError("required")
        if len(str(data)) > 50:
            raise serializers.ValidationError("at most 50 characters")
        return str(data)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_QUANTITIES, "default": 1})
class QuantitiesField(OriginBodyField):
    def to_internal_value(self, data: Any) -> int:
        if data is None:
            return 1
        if isinstance(data, bool) or not isinstance(data, int | str | Decimal):
            raise serializers.ValidationError("must be a whole number")
        try:
            qty = int(str(data))
        except ValueError:
            raise serializers.ValidationError("must be a whole number") from None
        if qty < 1 or qty > MAX_QUANTITIES:
            raise serializers.ValidationError(f"must be between 1 and {MAX_QUANTITIES}")
        return qty


@extend_schema_field({"type": "object", "additionalProperties": {}})
class ParametersField(OriginBodyField):
    """An object; its ``resource_name`` is checked when the body has no top-level one (the error
    is then ``parameters.resource_name``)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be an object")
        if self.parent.initial_data.get("resource_name") is None:
            problems = resource_name_problems(data.get("resource_name"))
            if problems:
                raise serializers.ValidationError({"resource_name": problems})
        return data


@extend_schema_field({"type": "string", "maxLength": 30, "pattern": RESOURCE_NAME_RE.pattern})
class ResourceNameField(OriginBodyField):
    def to_internal_value(self, data: Any) -> str | None:
        problems = resource_name_problems(data)
        if problems:
            raise serializers.ValidationError(problems)
        return data


@extend_schema_field({"type": "string", "maxLength": 50, "pattern": "^[A-Za-z0-9_-]{1,50}$"})
class CouponField(OriginBodyField):
    """Absent or ``null``: no coupon. Which promotion it names, and whether it applies, is the
    service's check (``orders.purchase.quote.coupon_for``), also 3307 on ``coupon``."""

    def to_internal_value(self, data: Any) -> str | None:
        if data is None:
            return None
        if not isinstance(data, str) or not ID_RE.match(data.strip()):
            raise serializers.ValidationError("must be a coupon code (1-50 letters, digits, _ or -)")
        return data.strip()


@extend_schema_field({"type": "string"})
class AsSentField(OriginBodyField):
    """Taken as sent: ``namespace`` (read by the tenancy, ``billing.tenancy.namespace_from_request``,
    before the body is checked) and a modify's ``plan_id`` (checked by the switch, after the order
    is found, so an unknown order stays 404). Listed for the schema."""

    def to_internal_value(self, data: Any) -> Any:
        return data


class OrderCreateSerializer(serializers.Serializer):
    """The create body. ``validated_data`` is what ``purchase_order_create`` takes (without
    ``namespace``); ``resource_name`` stays ``None`` when absent (the order takes
    ``parameters.resource_name``)."""

    namespace = AsSentField(help_text="defaults to your own (also a query parameter)")
    region = RegionField(help_text="required; may also come as a query parameter")
    plan_id = PlanIdField(help_text="required")
    quantities = QuantitiesField()
    parameters = ParametersField(help_text="{resource_name?: str, ...}")
    resource_name = ResourceNameField(help_text="wins over parameters.resource_name")
    coupon = CouponField(help_text="a promotion's code (any case); one per order")


class OrderActionSerializer(serializers.Serializer):
    """The ``PUT`` body: ``action``, and ``plan_id`` for a modify."""

    action = serializers.ChoiceField(
        choices=list(ACTIONS),
        error_messages=dict.fromkeys(("required", "null", "invalid_choice"), "one of cancel, renew, modify"),
    )
    namespace = AsSentField(help_text="defaults to your own (also a query parameter)")
    plan_id = AsSentField(help_text="modify only")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] == "modify" and not attrs.get("plan_id"):
            raise serializers.ValidationError({"plan_id": ["required for modify"]})
        return attrs


class OrderEnvelopeSerializer(serializers.Serializer):
    order = PurchaseOrderSerializer()


class OrderPreviewSerializer(serializers.Serializer):
    """What ``drytry=1`` would create (no id: nothing is written)."""

    namespace = serializers.CharField()
    region = serializers.CharField()
    quantities = serializers.IntegerField()
    plan_id = serializers.CharField()
    plan_type = serializers.CharField()
    resource_name = serializers.CharField(allow_blank=True)
    coupon = serializers.CharField(required=False, help_text="the coupon the create would redeem")
    start_time = serializers.DateTimeField(required=False, help_text="modify preview: the new order's start")
    deadline = serializers.DateTimeField(required=False, help_text="modify preview: end of its first period")
    status = serializers.CharField()


class DrytrySerializer(serializers.Serializer):
    drytry = serializers.BooleanField(help_text="always true: a preview, nothing was written")
    money = Money2Field(help_text="the first period, net of the coupon's discount")
    discount = Money2Field(required=False, help_text="with a coupon: what it takes off the first period")
    order = OrderPreviewSerializer()


class OrderActionResultSerializer(serializers.Serializer):
    """``PUT /usageapi/v1/orders/{id}``; with ``drytry=1`` the same figures, nothing written."""

    drytry = serializers.BooleanField(required=False, help_text="present (true) only on a preview")
    money = Money2Field(help_text="net: charged when > 0, refunded when < 0 (a switch)")
    credit = Money2Field(required=False, help_text="modify: the unused part of the old order")
    price = Money2Field(required=False, help_text="modify preview: the new plan's first period")
    order = PurchaseOrderSerializer(help_text="after the action; a modify preview: the new order (no id)")
    old_order = PurchaseOrderSerializer(required=False, help_text="modify: the switched order")
    period_start = serializers.DateTimeField(required=False, help_text="renew preview: the period paid")
    period_end = serializers.DateTimeField(required=False, help_text="renew preview: the new deadline")


class OrderMoneySerializer(serializers.Serializer):
    money = Money2Field(help_text="charged: the first period, net of the coupon's discount")
    discount = Money2Field(required=False, help_text="with a coupon: what it took off the first period")
    coupon = serializers.CharField(required=False, help_text="with a coupon: the promotion redeemed")
    order = PurchaseOrderSerializer(allow_null=True)


class UsageRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.CharField(source="order_ref")
    namespace = serializers.CharField(source="account.namespace")
    region = serializers.CharField()
    plan_id = serializers.SerializerMethodField()
    kind = serializers.CharField(help_text="`correction`: a late or voided meter event of a billed period")
    corrects = serializers.IntegerField(
        source="corrects_id", allow_null=True, help_text="a `correction`: the id of the record it corrects"
    )
    time = serializers.DateTimeField(source="created_at")
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    money = Money2Field(source="amount", help_text="charged: net of the promotion's discount")
    discount = Money2Field(help_text="what a promotion took off this record (gross = money + discount)")
    project = serializers.CharField(
        source="account.namespace", help_text="alias of `namespace` (the origin's field name)"
    )
    deadline = serializers.DateTimeField(
        source="period_end", help_text="alias of `period_end` (the origin's field name)"
    )

    def get_plan_id(self, obj: Any) -> str:
        return obj.plan.plan_id if obj.plan_id else ""


class UsagePageSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    results = UsageRecordSerializer(many=True)
    next = serializers.CharField(
        allow_null=True,
        help_text="pass as `after` for the records after this page (keyset); null on the last page",
    )


class SpeedSerializer(serializers.Serializer):
    per_hour = serializers.CharField()
    per_day = serializers.CharField()
    time = serializers.DateTimeField()
    orders = serializers.IntegerField()


class ReportRowSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    order_id = serializers.CharField(required=False)
    region = serializers.CharField(required=False)
    plan_id = serializers.CharField(required=False)
    money = serializers.CharField(
        help_text="money that moved, net: paid charges (after promotions) net of refunds and credits"
    )
    gross = serializers.CharField(help_text="money + discount: what the records cost before promotions")
    discount = serializers.CharField(help_text="what promotions took off the records of money (>= 0)")
    records = serializers.IntegerField(help_text="paid records counted in money")
    corrections = serializers.CharField(
        help_text="the part of money billed by `correction` records (late events +, voided events' refunds -)"
    )
    correction_records = serializers.IntegerField(help_text="the `correction` records within records")
    arrears = serializers.CharField(help_text="billed in the range and not paid (net; not in money)")
    arrears_records = serializers.IntegerField()


class ReportSerializer(serializers.Serializer):
    locals()["from"] = serializers.DateTimeField(help_text="start, in TALLY_TIME_ZONE")  # a keyword
    to = serializers.DateTimeField(help_text="end (exclusive), in TALLY_TIME_ZONE")
    first_day = serializers.DateField(help_text="first local calendar day")
    last_day = serializers.DateField(help_text="last local calendar day (inclusive)")
    time_zone = serializers.CharField()
    group_by = serializers.CharField()
    rows = ReportRowSerializer(many=True)
    total = serializers.CharField(
        help_text="net money of the rows: = minus the charge and refund ledger entries of the range"
    )
    gross = serializers.CharField(help_text="sum of the rows' gross (= total + discount)")
    discount = serializers.CharField(help_text="sum of the rows' discount")
    records = serializers.IntegerField()
    corrections = serializers.CharField(help_text="sum of the rows' corrections (within total)")
    correction_records = serializers.IntegerField()
    arrears = serializers.CharField()
    arrears_records = serializers.IntegerField()
