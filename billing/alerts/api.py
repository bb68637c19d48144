"""``GET``/``PATCH /api/v1/billing/alerts``: an account's alert thresholds, runway and alert states;
and the runway part of ``GET /api/v1/billing/account`` (``AccountRunwaySerializer``)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.acting import MoneyCallerMixin
from billing.alerts.models import AlertKind
from billing.alerts.selectors import account_alert_states, account_runway
from billing.alerts.services import MAX_BALANCE_BELOW, MAX_RUNWAY_DAYS, alert_thresholds_set
from billing.tenancy import namespace_from_request, resolve_account
from config.api.errors import ErrorCode
from config.api.fields import CountField, MoneyField


class ThresholdsSerializer(serializers.Serializer):
    """The thresholds in force (``null``: that alert is off) and whether each is the default."""

    balance_below = MoneyField(allow_null=True)
    runway_below_days = serializers.IntegerField(allow_null=True)
    balance_below_is_default = serializers.BooleanField()
    runway_below_days_is_default = serializers.BooleanField()


class AlertStateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AlertKind.choices)
    fired_at = serializers.DateTimeField(allow_null=True, help_text="notified and not recovered since")
    crossings = serializers.IntegerField()
    rearmed_at = serializers.DateTimeField(allow_null=True)


class AlertsSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    balance = MoneyField()
    burn_per_day = MoneyField()
    runway_days = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    thresholds = ThresholdsSerializer()
    states = AlertStateSerializer(many=True)


class AlertsUpdateSerializer(serializers.Serializer):
    """Either or both: ``null`` = the deployment default, ``0`` = off, a field left out is kept."""

    namespace = serializers.CharField(required=False, allow_blank=True, max_length=50)
    balance_below = MoneyField(required=False, allow_null=True, max_value=MAX_BALANCE_BELOW)
    runway_below_days = CountField(required=False, allow_null=True, min_value=0, max_value=MAX_RUNWAY_DAYS)


def runway_fields(account: Any) -> dict[str, Any]:
    """``burn_per_day``, ``runway_days`` and ``thresholds`` of ``account`` now."""
    runway = account_runway(account=account)
    return {
        "burn_per_day": runway.per_day,
        "runway_days": runway.days,
        "thresholds": runway.thresholds_data(),
    }


NAMESPACE_PARAM = OpenApiParameter("namespace", str, required=False, description="defaults to your own")


class AlertsView(MoneyCallerMixin, APIView):
    """The wallet's balance and runway alerts: thresholds in force (``null``: off), burn, runway
    and the state of each alert (docs/notifications.md)."""

    error_family = "billing"
    validation_error_code = ErrorCode.BILLING_INVALID_PARAMETERS

    def _body(self, account: Any) -> dict[str, Any]:
        data = {
            "namespace": account.namespace,
            "balance": account.balance,
            **runway_fields(account),
            "states": account_alert_states(account=account),
        }
        return dict(AlertsSerializer(data).data)

    @extend_schema(
        parameters=[NAMESPACE_PARAM], responses=AlertsSerializer, summary="Alert thresholds and runway"
    )
    def get(self, request: Request) -> Response:
        account = resolve_account(request.user, namespace_from_request(request), write=False)
        return Response(self._body(account))

    @extend_schema(
        request=AlertsUpdateSerializer,
        responses=AlertsSerializer,
        summary="Set balance / runway alert thresholds (null: deployment default, 0: off)",
    )
    def patch(self, request: Request) -> Response:
        ser = AlertsUpdateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        changes = {
            k: ser.validated_data[k]
            for k in ("balance_below", "runway_below_days")
            if k in ser.validated_data
        }
        with transaction.atomic():
            account = resolve_account(request.user, ser.validated_data.get("namespace") or None)
            alert_thresholds_set(account=account, **changes)
        return Response(self._body(account))
