from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.alerts.api import ThresholdsSerializer
from billing.errors import BillingInvalidInput
from billing.models import RechargeOrder
from billing.quota_batch import MAX_ITEMS
from billing.recharges import validate_recharge_amount
from config.api.fields import UNSIGNED_MONEY_PATTERN, CountField, MoneyField


@extend_schema_field({"type": "string", "pattern": UNSIGNED_MONEY_PATTERN, "example": "100.00"})
class RechargeAmountField(serializers.Field):
    """A positive amount with at most 4 decimals, given as a string or a JSON number (never a float)."""

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return validate_recharge_amount(data)
        except BillingInvalidInput as exc:
            raise serializers.ValidationError((exc.errors or {}).get("amount", [exc.message])) from exc

    def to_representation(self, value: Decimal) -> str:
        return str(value)


class NamespaceMixin(serializers.Serializer):
    namespace = serializers.CharField(required=False, allow_blank=True, max_length=50)


class RechargeCreateSerializer(NamespaceMixin):
    amount = RechargeAmountField()
    payment_method = serializers.CharField(max_length=20)
    currency = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=10)


class RechargeCreatedSerializer(serializers.Serializer):
    recharge_order_id = serializers.CharField()
    pay_url = serializers.CharField()
    status = serializers.CharField()


class RechargeOrderSerializer(serializers.ModelSerializer):
    recharge_order_id = serializers.CharField(source="public_id")
    namespace = serializers.CharField(source="account.namespace")
    amount = MoneyField()

    class Meta:
        model = RechargeOrder
        fields = [
            "recharge_order_id",
            "namespace",
            "amount",
            "currency",
            "payment_method",
            "payment_id",
            "status",
            "pay_url",
            "review_reason",
            "created_at",
            "finished_at",
        ]


class QuotaSerializer(serializers.Serializer):
    service = serializers.CharField()
    month = serializers.DateField()
    total = serializers.IntegerField()
    used = serializers.IntegerField()
    remaining = serializers.IntegerField()


class AccountSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    balance = MoneyField()
    currency = serializers.CharField()
    quotas = QuotaSerializer(many=True)
    burn_per_day = MoneyField(help_text="money per day at the current price of everything running")
    runway_days = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="balance / burn_per_day; null: nothing burns",
    )
    thresholds = ThresholdsSerializer()


class RecordSerializer(serializers.Serializer):
    record_type = serializers.ChoiceField(choices=["ledger", "quota_usage"])
    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = MoneyField(allow_negative=True)  # a charge is negative
    balance_after = MoneyField()
    created_at = serializers.DateTimeField()
    subject_type = serializers.CharField(required=False)
    subject_id = serializers.CharField(required=False)
    memo = serializers.CharField(required=False)
    service = serializers.CharField(required=False)
    request_id = serializers.CharField(required=False)
    count = serializers.IntegerField(required=False)
    free_count = serializers.IntegerField(required=False)
    paid_count = serializers.IntegerField(required=False)
    ledger_entry_id = serializers.IntegerField(required=False, allow_null=True)


class RecordPageSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    results = RecordSerializer(many=True)
    next = serializers.CharField(
        allow_null=True,
        help_text="pass as `after` for the records after this page (keyset); null on the last page",
    )


class QuotaRequestSerializer(serializers.Serializer):
    namespace = serializers.CharField(max_length=50)
    service = serializers.CharField(max_length=50)
    count = CountField(min_value=1, max_value=1_000_000_000)


class DeductRequestSerializer(QuotaRequestSerializer):
    request_id = serializers.CharField(max_length=128)


class DeductBatchRequestSerializer(serializers.Serializer):
    items = serializers.ListField(child=DeductRequestSerializer(), min_length=1, max_length=MAX_ITEMS)


class QuotaCheckResultSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=["free", "balance", "insufficient balance"])


class DeductPartSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["free", "paid"])
    count = serializers.IntegerField()
    amount = MoneyField()
    ledger_entry_id = serializers.IntegerField(allow_null=True)


class DeductResultSerializer(serializers.Serializer):
    request_id = serializers.CharField()
    free_count = serializers.IntegerField()
    paid_count = serializers.IntegerField()
    amount = MoneyField()
    balance = MoneyField()
    replayed = serializers.BooleanField()
    records = DeductPartSerializer(many=True)


class ItemErrorSerializer(serializers.Serializer):
    code = serializers.IntegerField()
    message = serializers.CharField()


class DeductBatchItemSerializer(serializers.Serializer):
    request_id = serializers.CharField()
    ok = serializers.BooleanField()
    result = DeductResultSerializer(allow_null=True)
    error = ItemErrorSerializer(allow_null=True)


class DeductBatchResultSerializer(serializers.Serializer):
    deducted = serializers.IntegerField(help_text="items answered with a deduction (new or replayed)")
    refused = serializers.IntegerField(help_text="items refused: see each item's error")
    results = DeductBatchItemSerializer(many=True)


class CallbackSerializer(serializers.Serializer):
    recharge_order_id = serializers.CharField(max_length=32)
    payment_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    amount = MoneyField()
    status = serializers.ChoiceField(choices=["SUCCESS", "FAILED"])

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("amount"), float):
            raise serializers.ValidationError({"amount": ["must be a decimal string"]})
        return super().to_internal_value(data)


class CallbackResultSerializer(serializers.Serializer):
    recharge_order_id = serializers.CharField()
    status = serializers.CharField()
    outcome = serializers.CharField()
