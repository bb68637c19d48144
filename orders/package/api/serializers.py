"""Request and response shapes of the package-order API (API.md "Package orders", seed 002)."""

from __future__ import annotations

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from rest_framework import serializers

from config.api.fields import MoneyField

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


class MeterEventsSerializer(serializers.Serializer):
    events = MeterEventInSerializer(many=True)


# --- responses (for the schema; views build plain dicts of these shapes) ----------------------------


class OperationOutSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    order_status = serializers.CharField()
    cost = MoneyField()
    amount_payable = MoneyField()
    consume_order_id = serializers.IntegerField(required=False, allow_null=True)
    ledger_entry_id = serializers.IntegerField(required=False, allow_null=True)


class InstanceOpOutSerializer(serializers.Serializer):
    prod_inst_id_ext = serializers.CharField()
    order_id = serializers.CharField()
    status = serializers.CharField()
    refunded = MoneyField(required=False)
    postpaid_billed = MoneyField(required=False)


class BillOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.CharField()
    instance = serializers.CharField(allow_null=True)
    component_id = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    quantity = serializers.DecimalField(max_digits=20, decimal_places=4)
    unit_price = MoneyField()
    amount = MoneyField()
    paid_at = serializers.DateTimeField(allow_null=True)
    ledger_entry_id = serializers.IntegerField(allow_null=True)


class ConsumeOrderOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.CharField()
    instance = serializers.CharField(allow_null=True)
    type = serializers.CharField()
    status = serializers.CharField()
    amount = MoneyField()
    bill_ids = serializers.ListField(child=serializers.IntegerField())
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    ledger_entry_id = serializers.IntegerField(allow_null=True)


class ComponentOutSerializer(serializers.Serializer):
    component_id = serializers.CharField()
    billing_mode = serializers.CharField()
    cycle = serializers.CharField()
    attrs = serializers.JSONField()
    price = MoneyField()
    status = serializers.CharField()
    periods_billed = serializers.IntegerField()
    paid_until = serializers.DateTimeField(allow_null=True)
    next_run_at = serializers.DateTimeField(allow_null=True)


class SubscriptionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    anchor = serializers.DateTimeField()
    auto_renew = serializers.BooleanField()
    components = ComponentOutSerializer(many=True)


class InstanceOutSerializer(serializers.Serializer):
    prod_inst_id_ext = serializers.CharField()
    prod_id = serializers.CharField()
    prod_name = serializers.CharField()
    plan_id = serializers.CharField()
    attrs = serializers.JSONField()
    is_auto_renew = serializers.BooleanField()
    status = serializers.CharField()
    subscription = SubscriptionOutSerializer()


class PackageOrderOutSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    namespace = serializers.CharField()
    app_id = serializers.CharField()
    order_user_name = serializers.CharField()
    description = serializers.CharField()
    extra_info = serializers.JSONField()
    order_status = serializers.CharField()
    cost = MoneyField()
    amount_payable = MoneyField()
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    canceled_at = serializers.DateTimeField(allow_null=True)


class PackageOrderDetailOutSerializer(PackageOrderOutSerializer):
    instances = InstanceOutSerializer(many=True)
    bills = BillOutSerializer(many=True)
    consume_orders = ConsumeOrderOutSerializer(many=True)


class MeterResultOutSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField())


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
    amount = MoneyField(help_text="what this component's record would charge (< 0: credit)")


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
