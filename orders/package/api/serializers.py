"""Request and response shapes of the package-order API (docs/package-orders.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField

from config.api.fields import MoneyField
from config.money import money4
from orders.package.metering import MAX_EVENTS

ID_FIELD = {"max_length": 100, "allow_blank": False}


class AttrSerializer(serializers.Serializer):
    attr_id = serializers.CharField(max_length=50)
    attr_value = serializers.JSONField(encoder=DjangoJSONEncoder)

    def validate_attr_value(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            raise serializers.ValidationError("must be a string, number or boolean")
        return value


class PlanInSerializer(serializers.Serializer):
    plan_id = serializers.CharField(max_length=50)
    attrs_id_value = serializers.ListField(
        child=AttrSerializer(), required=False, default=list, max_length=100
    )


class InstanceExtSerializer(serializers.Serializer):
    id = serializers.RegexField(r"^[A-Za-z0-9_.:-]{1,100}$", max_length=100)
    is_auto_renew = serializers.ChoiceField(choices=[0, 1], required=False, default=0)


class ProductSetSerializer(serializers.Serializer):
    prod_id = serializers.CharField(max_length=50)
    prod_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    prod_instance_ext_array = InstanceExtSerializer(many=True, min_length=1, max_length=100)  # type: ignore[call-arg]
    plan = PlanInSerializer()


class PackageOrderCreateSerializer(serializers.Serializer):
    app_id = serializers.CharField(max_length=100)
    order_user_id = serializers.CharField(max_length=50, help_text="the account namespace")
    order_user_name = serializers.CharField(max_length=200, allow_blank=True)
    description = serializers.CharField(max_length=2000, allow_blank=True)
    extra_info = serializers.JSONField(
        encoder=DjangoJSONEncoder, help_text="a string or an object, stored as given"
    )
    order_product_set = ProductSetSerializer(many=True, min_length=1, max_length=50)  # type: ignore[call-arg]
    coupon = serializers.RegexField(
        r"^[A-Za-z0-9_-]{1,50}$",
        required=False,
        allow_null=True,
        help_text="a promotion's code (any case); one per order, redeemed by the order's charge",
        error_messages={"invalid": "must be a coupon code (1-50 letters, digits, _ or -)"},
    )


class RenewSerializer(serializers.Serializer):
    charge_channel = serializers.CharField(max_length=50, required=False, default="balance")
    duration = serializers.CharField(
        max_length=10, help_text='whole cycles ("1"), months ("3M") or years ("1Y")'
    )


class ComponentInfoSerializer(serializers.Serializer):
    component_id = serializers.CharField(max_length=50)
    attrs_id_value = AttrSerializer(many=True, max_length=100)  # type: ignore[call-arg]


class ChangeConfigSerializer(serializers.Serializer):
    plan_id = serializers.CharField(max_length=50)
    component_infos = ComponentInfoSerializer(many=True, min_length=1, max_length=100)  # type: ignore[call-arg]

    def validate_component_infos(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [c["component_id"] for c in value]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("a component is given twice")
        return value


class MeterEventInSerializer(serializers.Serializer):
    """Documentation only: events are validated one by one and rejected by index, not as a whole."""

    event_id = serializers.CharField(max_length=100)
    instance = serializers.CharField(
        max_length=100, help_text="prod_inst_id_ext or a purchase order's order_id"
    )
    component_id = serializers.CharField(max_length=50, required=False)
    quantity = MoneyField(help_text="a decimal of the money form: at most 4 places, no sign")
    timestamp = serializers.DateTimeField()


_EVENTS_REQUIRED = "required: a non-empty list"


@extend_schema_field(MeterEventInSerializer(many=True))
class MeterEventListField(serializers.ListField):
    """The batch as given: a non-empty list of at most ``MAX_EVENTS``; each event is checked by
    ``orders.package.metering`` and rejected by index, so one bad event does not refuse the rest."""

    default_error_messages = {
        "required": _EVENTS_REQUIRED,
        "null": _EVENTS_REQUIRED,
        "not_a_list": _EVENTS_REQUIRED,
        "empty": _EVENTS_REQUIRED,
        "max_length": f"at most {MAX_EVENTS} events a call",
    }

    def __init__(self, **kwargs: Any):
        super().__init__(allow_empty=False, max_length=MAX_EVENTS, **kwargs)


class MeterEventsSerializer(serializers.Serializer):
    events = MeterEventListField()


class MeterEventsVoidSerializer(serializers.Serializer):
    """``{event_ids}``: 1-1000 ids of the caller's meter events (an unknown one refuses the call)."""

    event_ids = serializers.ListField(
        child=serializers.CharField(min_length=1, max_length=100),
        allow_empty=False,
        max_length=MAX_EVENTS,
    )


# --- responses ------------------------------------------------------------------------------------
# The views answer with these serializers' ``.data``. Money and quantities are ``money4`` strings
# (4 places, half up: ``"88.0000"``), datetimes ``isoformat()`` in UTC (``+00:00``, microseconds
# kept), a missing value ``null``; a key that is not ``required`` is left out when its source is.


class _Money4Out:
    """Renders as ``money4`` (``MoneyField``'s schema, the package API's half-up rounding)."""

    def to_representation(self, value: Any) -> str:
        return money4(value)


class MoneyOutField(_Money4Out, MoneyField):
    pass


class QuantityOutField(_Money4Out, serializers.DecimalField):
    def __init__(self, **kwargs: Any):
        super().__init__(max_digits=20, decimal_places=4, **kwargs)


class IsoDateTimeField(serializers.DateTimeField):
    """``value.isoformat()`` as stored (UTC ``+00:00``), not DRF's ``Z`` form."""

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class LoadedListSerializer(serializers.ListSerializer):
    """A nested list the view loaded beforehand, read from the context under the field's name."""

    def get_attribute(self, instance: Any) -> Any:
        return self.context[str(self.field_name)]


# Of an ``OperationResult`` (create, charge, change-config).
class OperationOutSerializer(serializers.Serializer):
    order_id = serializers.CharField(source="order.order_id")
    order_status = serializers.CharField(source="order.status")
    cost = MoneyOutField()
    amount_payable = MoneyOutField()
    consume_order_id = serializers.IntegerField(required=False, allow_null=True)
    ledger_entry_id = serializers.IntegerField(required=False, allow_null=True)


class InstanceRenewOutSerializer(OperationOutSerializer):
    """A renewal's ``OperationResult`` and the renewed instance (context ``prod_inst_id_ext``)."""

    prod_inst_id_ext = serializers.SerializerMethodField()

    def get_prod_inst_id_ext(self, result: Any) -> str:
        return str(self.context["prod_inst_id_ext"])


class _SettlementField(MoneyOutField):
    """Stop only: the settlement amount of the field's name (context ``settlement``, 0 when the
    stop had none); left out of the answers of other instance operations."""

    def get_attribute(self, instance: Any) -> Any:
        settlement = self.context.get("settlement")
        if settlement is None:
            raise SkipField()
        return settlement.get(str(self.field_name), 0)


# Of a ``ProductInstance`` (pause, resume; stop with its settlement).
class InstanceOpOutSerializer(serializers.Serializer):
    prod_inst_id_ext = serializers.CharField()
    order_id = serializers.CharField(source="order.order_id")
    status = serializers.CharField()
    refunded = _SettlementField(required=False)
    postpaid_billed = _SettlementField(required=False)


class _LineInstanceField(serializers.CharField):
    """A bill's instance: ``prod_inst_id_ext`` of its line's subscription (context
    ``line_instances``, loaded once per page)."""

    def get_attribute(self, instance: Any) -> Any:
        return self.context["line_instances"].get(instance.line_id)


# Of a package ``UsageRecord``.
class BillOutSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    order_id = serializers.CharField(source="order_ref")
    instance = _LineInstanceField(allow_null=True)
    component_id = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    period_start = IsoDateTimeField()
    period_end = IsoDateTimeField()
    quantity = QuantityOutField()
    unit_price = MoneyOutField()
    amount = MoneyOutField(help_text="net: what the bill costs after `discount`")
    discount = MoneyOutField(help_text="what a promotion took off this bill (0 without one)")
    paid_at = IsoDateTimeField(allow_null=True)
    ledger_entry_id = serializers.IntegerField(allow_null=True)
    corrects = serializers.IntegerField(
        source="corrects_id",
        allow_null=True,
        help_text="a `correction`: the record of the period it corrects",
    )


class _BillIdsField(serializers.ListField):
    """A consume order's bills, sorted (context ``bill_ids``: consume order pk -> record pks)."""

    def get_attribute(self, instance: Any) -> Any:
        return sorted(self.context["bill_ids"].get(instance.pk, []))


# Of a ``ConsumeOrder`` (``order`` and ``instance`` selected with it).
class ConsumeOrderOutSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    order_id = serializers.CharField(source="order.order_id")
    instance = serializers.CharField(source="instance.prod_inst_id_ext", allow_null=True)
    type = serializers.CharField()
    status = serializers.CharField()
    amount = MoneyOutField()
    bill_ids = _BillIdsField(child=serializers.IntegerField())
    created_at = IsoDateTimeField()
    paid_at = IsoDateTimeField(allow_null=True)
    ledger_entry_id = serializers.IntegerField(allow_null=True)


# Of a ``SubscriptionLine``.
class ComponentOutSerializer(serializers.Serializer):
    component_id = serializers.CharField()
    billing_mode = serializers.CharField()
    cycle = serializers.CharField()
    attrs = serializers.JSONField()
    price = MoneyOutField()
    status = serializers.CharField()
    periods_billed = serializers.IntegerField()
    paid_until = IsoDateTimeField(allow_null=True)
    next_run_at = IsoDateTimeField(allow_null=True)


class SubscriptionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    status = serializers.CharField()
    anchor = IsoDateTimeField()
    auto_renew = serializers.BooleanField()
    components = ComponentOutSerializer(many=True, source="lines")


class InstanceOutSerializer(serializers.Serializer):
    prod_inst_id_ext = serializers.CharField()
    prod_id = serializers.CharField()
    prod_name = serializers.CharField()
    plan_id = serializers.CharField()
    attrs = serializers.JSONField()
    is_auto_renew = serializers.BooleanField()
    status = serializers.CharField()
    subscription = SubscriptionOutSerializer()


# Of a ``PackageOrder`` (``account`` selected with it).
class PackageOrderOutSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    namespace = serializers.CharField(source="account.namespace")
    app_id = serializers.CharField()
    order_user_name = serializers.CharField()
    description = serializers.CharField()
    extra_info = serializers.JSONField()
    order_status = serializers.CharField(source="status")
    cost = MoneyOutField()
    amount_payable = MoneyOutField()
    created_at = IsoDateTimeField()
    paid_at = IsoDateTimeField(allow_null=True)
    canceled_at = IsoDateTimeField(allow_null=True)


# The order and its lists, loaded by the view (``selectors.order_detail_context``: ``instances``,
# ``bills``, ``consume_orders`` and the lookups of the bill and consume-order serializers).
class PackageOrderDetailOutSerializer(PackageOrderOutSerializer):
    instances = LoadedListSerializer(child=InstanceOutSerializer())
    bills = LoadedListSerializer(child=BillOutSerializer())
    consume_orders = LoadedListSerializer(child=ConsumeOrderOutSerializer())


# Of an ``IngestResult`` (``orders.package.metering``).
class MeterResultOutSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField())


class VoidCorrectionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="the correction record (kind `correction`, in /api/v1/bills)")
    corrects = serializers.IntegerField(help_text="the record of the billed period it corrects")
    quantity = QuantityOutField(help_text="< 0: the quantity voided")
    amount = MoneyOutField(help_text="< 0: refunded")


class MeterVoidOutSerializer(serializers.Serializer):
    voided = serializers.IntegerField(help_text="events voided by this call")
    already_voided = serializers.IntegerField(help_text="named events voided before (nothing done)")
    refunded = MoneyOutField(help_text="money refunded by this call (events already billed)")
    corrections = VoidCorrectionOutSerializer(many=True)


# --- previews (drytry=1: nothing written) ----------------------------------------------------------


class PreviewComponentOutSerializer(serializers.Serializer):
    prod_inst_id_ext = serializers.CharField(required=False, help_text="create: the instance")
    component_id = serializers.CharField()
    billing_mode = serializers.CharField(required=False)
    cycle = serializers.CharField(required=False)
    unit_price = MoneyField(required=False)
    quantity = serializers.DecimalField(max_digits=20, decimal_places=4, required=False)
    old_price = MoneyField(required=False, help_text="change-config: the price before")
    new_price = MoneyField(required=False, help_text="change-config: the price after")
    amount = MoneyField(help_text="what this component's record would charge (< 0: credit), net")
    discount = MoneyField(
        required=False, help_text="renew, change-config: the order's promotion on this component"
    )


class PreviewOutSerializer(serializers.Serializer):
    drytry = serializers.BooleanField(help_text="always true: nothing was written")
    order_id = serializers.CharField(allow_null=True, help_text="null for a create (no order yet)")
    order_status = serializers.CharField()
    prod_inst_id_ext = serializers.CharField(required=False)
    plan_id = serializers.CharField(required=False)
    cost = MoneyField(help_text="net: charged when > 0, refunded when < 0")
    amount_payable = MoneyField()
    refund = MoneyField(required=False, help_text="change-config: refunded when the net is a credit")
    cycles = serializers.IntegerField(required=False, help_text="renew")
    period_start = serializers.DateTimeField(required=False, help_text="renew: start of the paid span")
    paid_until = serializers.DateTimeField(required=False, help_text="renew: the new end of the paid span")
    components = PreviewComponentOutSerializer(many=True)
    discount = MoneyField(
        required=False, help_text="with a promotion: what it takes off (cost is net); absent when nothing"
    )
