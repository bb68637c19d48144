"""Output shapes of the vehicle-order API, and its request bodies.

``CancelRequest`` and ``UnderwriteRequest`` validate their bodies (``is_valid()``, then the service
with ``validated_data``). The placement bodies are checked by ``orders.vehicle.placing`` (every rule,
catalog ones included, every field at once: docs/decisions.md, "Vehicle placing validates in the
service"); ``PlanOrderRequest``, ``DriverOrderRequest`` and ``SaleOrderRequest`` only describe them
for ``/api/schema/``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.api.fields import MoneyField
from orders.vehicle.models import VehicleOrder, VehicleOrderEvent, VehicleOrderType


class PlanOrderRequest(serializers.Serializer):
    vid = serializers.UUIDField()
    plans = serializers.DictField(
        child=serializers.DictField(child=MoneyField()), help_text="{plan_id: {piid: price}}"
    )
    qid = serializers.UUIDField()
    pmid = serializers.UUIDField(required=False, allow_null=True)
    service_ratio = serializers.DecimalField(max_digits=9, decimal_places=4, coerce_to_string=True)
    summary = MoneyField()
    payment = MoneyField()
    expect_at = serializers.DateTimeField()
    namespace = serializers.CharField(required=False)


class DriverOrderRequest(serializers.Serializer):
    vid = serializers.UUIDField()
    dids = serializers.ListField(child=serializers.UUIDField())
    summary = MoneyField()
    payment = MoneyField()
    namespace = serializers.CharField(required=False)


class SaleOrderRequest(serializers.Serializer):
    vid = serializers.UUIDField()
    qid = serializers.UUIDField()
    items = serializers.DictField(child=MoneyField(), help_text="{piid: price}")
    summary = MoneyField()
    payment = MoneyField()
    namespace = serializers.CharField(required=False)


class PlacedSerializer(serializers.Serializer):
    order_id = serializers.UUIDField()
    order_no = serializers.CharField()


class CancelRequest(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class UnderwriteRequest(serializers.Serializer):
    result = serializers.ChoiceField(choices=["approved", "rejected"])
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="kept in the order's event"
    )


class VehicleOrderItemSerializer(serializers.Serializer):
    plan_id = serializers.CharField(source="plan.plan_id")
    piid = serializers.UUIDField()
    name = serializers.CharField()
    price = MoneyField()


class VehicleOrderSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username")
    namespace = serializers.CharField(source="account.namespace")
    type_name = serializers.SerializerMethodField()
    summary = MoneyField()
    payment = MoneyField()
    service_ratio = serializers.DecimalField(max_digits=9, decimal_places=4, allow_null=True)
    plan_id = serializers.SerializerMethodField()
    dids = serializers.ListField(child=serializers.UUIDField())

    class Meta:
        model = VehicleOrder
        fields = [
            "order_id",
            "order_no",
            "type",
            "type_name",
            "vid",
            "owner",
            "namespace",
            "summary",
            "payment",
            "state_code",
            "state",
            "start_at",
            "stop_at",
            "qid",
            "pmid",
            "service_ratio",
            "expect_at",
            "plan_id",
            "dids",
            "created_at",
            "updated_at",
        ]

    def get_type_name(self, obj: VehicleOrder) -> str:
        return VehicleOrderType(obj.type).label

    def get_plan_id(self, obj: VehicleOrder) -> str | None:
        return obj.plan.plan_id if obj.plan is not None else None


class VehicleOrderDiscountSerializer(serializers.Serializer):
    """A plan order's promotion line (its ``pmid``): ``summary`` = ``gross`` - ``amount``."""

    pmid = serializers.UUIDField(source="promotion.pmid")
    code = serializers.CharField()
    gross = MoneyField(help_text="the sum of the items")
    amount = MoneyField(help_text="the discount, taken off the items of the plans it applies to")


class VehicleOrderDetailSerializer(VehicleOrderSerializer):
    items = VehicleOrderItemSerializer(many=True)
    plans = serializers.SerializerMethodField(help_text="plan orders: {plan_id: {piid: price}}")
    discount = VehicleOrderDiscountSerializer(
        source="discount_line", required=False, help_text="only on a plan order placed with a pmid"
    )

    class Meta(VehicleOrderSerializer.Meta):
        fields = [*VehicleOrderSerializer.Meta.fields, "items", "plans", "discount"]

    def to_representation(self, instance: VehicleOrder) -> dict[str, Any]:
        """``discount`` only where there is one (the answers of other orders keep their shape)."""
        data = dict(super().to_representation(instance))
        if data.get("discount") is None:
            data.pop("discount", None)
        return data

    def get_plans(self, obj: VehicleOrder) -> dict[str, dict[str, str]] | None:
        if obj.type != VehicleOrderType.PLAN:
            return None
        out: dict[str, dict[str, Any]] = {}
        for item in obj.items.all():
            out.setdefault(item.plan.plan_id, {})[str(item.piid)] = f"{item.price:.4f}"
        return out


class VehicleOrderEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = VehicleOrderEvent
        fields = ["id", "kind", "actor", "occurred_at", "from_state", "to_state", "data"]

    def get_actor(self, obj: VehicleOrderEvent) -> str | None:
        return obj.actor.username if obj.actor is not None else None


class VehicleOrderListSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    results = VehicleOrderSerializer(many=True)
    next = serializers.CharField(
        allow_null=True,
        help_text="pass as `after` for the orders after this page (keyset); null on the last page",
    )


class VehicleOrderEventListSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    results = VehicleOrderEventSerializer(many=True)


class VehiclePreviewSerializer(serializers.Serializer):
    """``pay`` / ``cancel`` with ``drytry=1``: what the call would charge or refund, nothing written."""

    drytry = serializers.BooleanField(help_text="always true")
    order_id = serializers.UUIDField()
    order_no = serializers.CharField()
    state_code = serializers.IntegerField()
    to_state_code = serializers.IntegerField(help_text="the state the call would move the order to")
    to_state = serializers.CharField()
    charge = serializers.CharField(help_text="4-place decimal string: charged to the wallet")
    refund = serializers.CharField(help_text="4-place decimal string: refunded to the wallet")
    rule = serializers.CharField(required=False, help_text="cancel: full or prorated")
    promotion = serializers.CharField(required=False, help_text="pay of an order with a pmid: its code")
    discount = serializers.CharField(required=False, help_text="pay of an order with a pmid: 4 places")
    total_days = serializers.IntegerField(required=False)
    used_days = serializers.IntegerField(required=False)
    unused_days = serializers.IntegerField(required=False)
