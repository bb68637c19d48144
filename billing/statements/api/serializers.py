"""Output serializers of statements and credit notes (and the query parameters of the lists)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.statements.periods import parse_period
from config.api.fields import MoneyField
from config.exceptions import DomainError


@extend_schema_field(OpenApiTypes.STR)
class PeriodField(serializers.Field):
    """A month as ``YYYY-MM``."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            return parse_period(data)
        except DomainError as exc:
            raise serializers.ValidationError("must be YYYY-MM (a month)") from exc

    def to_representation(self, value: Any) -> str:
        return f"{value:%Y-%m}"


class DocumentQuerySerializer(serializers.Serializer):
    namespace = serializers.CharField(required=False, allow_blank=True, max_length=50)
    period = PeriodField(required=False)


class QuotaUsedSerializer(serializers.Serializer):
    service = serializers.CharField()
    total = serializers.IntegerField()
    used = serializers.IntegerField()
    paid_calls = serializers.IntegerField()


class ListedCreditNoteSerializer(serializers.Serializer):
    number = serializers.CharField()
    statement = serializers.CharField()
    amount = serializers.CharField()
    issued_at = serializers.DateTimeField()


class LineDetailSerializer(serializers.Serializer):
    order = serializers.CharField(allow_null=True)
    instance = serializers.CharField(allow_null=True, allow_blank=True)
    component = serializers.CharField(allow_null=True, allow_blank=True)
    usage_kind = serializers.CharField(allow_null=True)
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    records = serializers.IntegerField(allow_null=True)
    quantity = serializers.CharField(allow_null=True)
    unit_price = serializers.CharField(allow_null=True)
    amount = serializers.CharField(allow_null=True)


class StatementLineSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    kind = serializers.CharField()
    group_type = serializers.CharField()
    group_id = serializers.CharField()
    description = serializers.CharField()
    entry_count = serializers.IntegerField()
    first_at = serializers.DateTimeField()
    last_at = serializers.DateTimeField()
    quantity = MoneyField(allow_null=True)
    unit_price = MoneyField(allow_null=True)
    amount = MoneyField(allow_negative=True)  # charges are negative, like their ledger entries
    details = LineDetailSerializer(many=True)


class StatementSummarySerializer(serializers.Serializer):
    number = serializers.CharField(allow_null=True)
    namespace = serializers.CharField()
    currency = serializers.CharField()
    period = PeriodField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    opening_balance = MoneyField()
    total_recharges = MoneyField()
    total_charges = MoneyField(allow_negative=True)  # <= 0
    total_refunds = MoneyField()
    total_adjustments = MoneyField(allow_negative=True)
    closing_balance = MoneyField()
    entry_count = serializers.IntegerField()
    issued_at = serializers.DateTimeField(allow_null=True)
    pdf_url = serializers.SerializerMethodField()
    pdf_sha256 = serializers.SerializerMethodField()

    def get_pdf_url(self, obj: Any) -> str | None:
        number = getattr(obj, "number", None)
        return f"/api/v1/billing/statements/{number}.pdf" if number else None

    def get_pdf_sha256(self, obj: Any) -> str | None:
        return self.context.get("sha256", {}).get(getattr(obj, "number", None))


class StatementSerializer(StatementSummarySerializer):
    lines = serializers.SerializerMethodField()
    free_quota = QuotaUsedSerializer(many=True)
    credit_notes = ListedCreditNoteSerializer(many=True, help_text="credit notes issued in this period")
    corrections = serializers.SerializerMethodField(help_text="credit notes that correct this statement")
    draft = serializers.SerializerMethodField()

    def get_lines(self, obj: Any) -> list[dict[str, Any]]:
        lines = self.context.get("lines")
        if lines is None:
            lines = list(obj.lines.order_by("position"))
        return StatementLineSerializer(lines, many=True).data  # type: ignore[return-value]

    def get_corrections(self, obj: Any) -> list[str]:
        if not getattr(obj, "pk", None):
            return []
        return list(obj.corrections.order_by("sequence").values_list("number", flat=True))

    def get_draft(self, obj: Any) -> bool:
        return not getattr(obj, "pk", None)


class CreditNoteSerializer(serializers.Serializer):
    number = serializers.CharField()
    namespace = serializers.CharField()
    currency = serializers.CharField()
    statement = serializers.CharField(source="statement.number")
    period = PeriodField(source="statement.period")
    amount = MoneyField()
    reason = serializers.CharField()
    actor = serializers.SerializerMethodField()
    ledger_entry_id = serializers.IntegerField()
    corrected_lines = serializers.SerializerMethodField()
    issued_at = serializers.DateTimeField()
    pdf_url = serializers.SerializerMethodField()

    def get_actor(self, obj: Any) -> str | None:
        return obj.actor.get_username() if obj.actor_id else None

    def get_corrected_lines(self, obj: Any) -> list[int]:
        return list(obj.lines.order_by("position").values_list("position", flat=True))

    def get_pdf_url(self, obj: Any) -> str:
        return f"/api/v1/billing/credit-notes/{obj.number}.pdf"
