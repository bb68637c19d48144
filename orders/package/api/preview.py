"""The answers of the package-order previews (``drytry=1``, ``orders.package.previews``): each is
its serializer's ``.data``. The schema documents the three with ``PreviewOutSerializer`` (one
shape; a preview leaves out the keys it does not have)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from orders.package.api.serializers import (
    InstanceRenewOutSerializer,
    IsoDateTimeField,
    MoneyOutField,
    OperationOutSerializer,
    PreviewOutSerializer,
    QuantityOutField,
)
from orders.package.previews import InstanceState
from orders.package.quote import ChangeQuote, CreateQuote, RenewQuote

OPERATION_OR_PREVIEW = PolymorphicProxySerializer(
    component_name="PackageOperationOrPreview",
    serializers=[OperationOutSerializer, PreviewOutSerializer],
    resource_type_field_name=None,
)
# renew answers the renewed instance as well
RENEW_OR_PREVIEW = PolymorphicProxySerializer(
    component_name="PackageRenewOrPreview",
    serializers=[InstanceRenewOutSerializer, PreviewOutSerializer],
    resource_type_field_name=None,
)


class _Constant(serializers.Field):
    """The same value in every answer (``drytry: true``; a create's ``order_id: null``)."""

    def __init__(self, value: Any):
        self.value = value
        super().__init__(source="*", read_only=True)

    def to_representation(self, _: Any) -> Any:
        return self.value


# Of a ``ComponentQuote``.
class CreatePreviewComponentSerializer(serializers.Serializer):
    prod_inst_id_ext = serializers.CharField()
    component_id = serializers.CharField(source="cost.component_id")
    billing_mode = serializers.CharField(source="cost.billing_mode")
    cycle = serializers.CharField()
    unit_price = MoneyOutField(source="cost.price")
    amount = MoneyOutField()


# Of a ``CreateQuote`` (no order yet).
class CreatePreviewSerializer(serializers.Serializer):
    drytry = _Constant(True)
    order_id = _Constant(None)
    order_status = _Constant("unpaid")
    cost = MoneyOutField(source="total")
    amount_payable = MoneyOutField(source="total")
    components = CreatePreviewComponentSerializer(many=True)
    discount = MoneyOutField(required=False, help_text="with a coupon: what it takes off the cost")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        if getattr(instance, "promotion", None) is None:
            data.pop("discount", None)
        return data


class _RenewedCycles(QuantityOutField):
    """A renewal line's quantity: the renewal's cycles (context ``cycles``)."""

    def get_attribute(self, instance: Any) -> Any:
        return Decimal(self.context["cycles"])


class _WithoutZeroDiscount(serializers.Serializer):
    """``discount`` only when the order's promotion takes something off (answers without one keep
    their shape)."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        if not _discount_of(instance):
            data.pop("discount", None)
        return data


def _discount_of(instance: Any) -> Decimal:
    if isinstance(instance, dict):
        return Decimal(instance["quote"].discount)
    return Decimal(instance.discount)


# Of a ``RenewLine``.
class RenewPreviewComponentSerializer(_WithoutZeroDiscount):
    component_id = serializers.CharField(source="line.component_id")
    unit_price = MoneyOutField(source="cost.price")
    quantity = _RenewedCycles()
    amount = MoneyOutField()
    discount = MoneyOutField(required=False)


# Of ``{"state": InstanceState, "quote": RenewQuote}``.
class RenewPreviewSerializer(_WithoutZeroDiscount):
    drytry = _Constant(True)
    order_id = serializers.CharField(source="state.order.order_id")
    order_status = serializers.CharField(source="state.order.status")
    prod_inst_id_ext = serializers.CharField(source="state.instance.prod_inst_id_ext")
    cost = MoneyOutField(source="quote.total")
    amount_payable = MoneyOutField(source="quote.total")
    cycles = serializers.IntegerField(source="quote.cycles")
    period_start = IsoDateTimeField(source="quote.start")
    paid_until = IsoDateTimeField(source="quote.end")
    components = RenewPreviewComponentSerializer(many=True, source="quote.lines")
    discount = MoneyOutField(source="quote.discount", required=False)


class _AmountOrZero(MoneyOutField):
    """A change line's amount; a line the change does not bill (no record) shows 0."""

    def get_attribute(self, instance: Any) -> Any:
        return instance.amount or Decimal(0)


# Of a ``ChangeLine``.
class ChangePreviewComponentSerializer(_WithoutZeroDiscount):
    component_id = serializers.CharField(source="line.component_id")
    billing_mode = serializers.CharField(source="line.billing_mode")
    old_price = MoneyOutField(source="before.price")
    new_price = MoneyOutField(source="after.price")
    quantity = QuantityOutField(source="fraction")
    amount = _AmountOrZero()
    discount = MoneyOutField(required=False)


# Of ``{"state": InstanceState, "quote": ChangeQuote}``.
class ChangePreviewSerializer(_WithoutZeroDiscount):
    drytry = _Constant(True)
    order_id = serializers.CharField(source="state.order.order_id")
    order_status = serializers.CharField(source="state.order.status")
    prod_inst_id_ext = serializers.CharField(source="state.instance.prod_inst_id_ext")
    plan_id = serializers.CharField(source="quote.plan.plan_id")
    cost = MoneyOutField(source="quote.net")
    amount_payable = MoneyOutField(source="quote.payable")
    refund = MoneyOutField(source="quote.refund")
    components = ChangePreviewComponentSerializer(many=True, source="quote.lines")
    discount = MoneyOutField(source="quote.discount", required=False)


def create_preview_repr(quote: CreateQuote) -> dict[str, Any]:
    return dict(CreatePreviewSerializer(quote).data)


def renew_preview_repr(state: InstanceState, quote: RenewQuote) -> dict[str, Any]:
    preview = RenewPreviewSerializer({"state": state, "quote": quote}, context={"cycles": quote.cycles})
    return dict(preview.data)


def change_preview_repr(state: InstanceState, quote: ChangeQuote) -> dict[str, Any]:
    return dict(ChangePreviewSerializer({"state": state, "quote": quote}).data)
