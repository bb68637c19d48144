"""Internal billing API (``/internal/v1/billing``): quota for metered services, payment callback.

check/deduct need the ``billing.use_internal_api`` permission (service accounts); the callback is
authenticated only by its HMAC signature. ``deduct-quota`` is on the hot path (benchmarked with 32
concurrent clients): the token lookup, then one short transaction in ``quota_deduct`` that locks the
account by namespace (the permission answer and the metered service come from per-process caches,
``billing.permissions`` and ``billing.quota``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from billing.api.batch_input import well_formed_items, well_formed_request
from billing.api.serializers import (
    CallbackResultSerializer,
    CallbackSerializer,
    DeductBatchRequestSerializer,
    DeductBatchResultSerializer,
    DeductRequestSerializer,
    DeductResultSerializer,
    QuotaCheckResultSerializer,
    QuotaRequestSerializer,
)
from billing.errors import RechargeAmountMismatch
from billing.permissions import CanUseInternalApi
from billing.quota import QuotaDeduction, quota_check, quota_deduct
from billing.quota_batch import DeductItem, ItemResult, quota_deduct_batch
from billing.recharges import recharge_handle_callback
from billing.signature import HEADER, verify
from config.api.errors import ErrorCode
from config.api.validation import raise_invalid
from config.money import MONEY_PLACES, ZERO


class InternalView(APIView):
    error_family = "billing"
    validation_error_code = ErrorCode.BILLING_INVALID_PARAMETERS
    permission_classes = [CanUseInternalApi]


def _validated(serializer_class: type[Serializer], request: Request) -> dict[str, Any]:
    """What the serializer makes of a body the one-pass check left to it (its errors raise)."""
    ser = serializer_class(data=request.data)
    ser.is_valid(raise_exception=True)
    return dict(ser.validated_data)


class CheckQuotaView(InternalView):
    @extend_schema(request=QuotaRequestSerializer, responses=QuotaCheckResultSerializer)
    def post(self, request: Request) -> Response:
        v = well_formed_request(request.data, with_request_id=False) or _validated(
            QuotaRequestSerializer, request
        )
        result = quota_check(namespace=v["namespace"], service=v["service"], count=v["count"])
        return Response({"allowed": result.allowed, "reason": result.reason})


class DeductQuotaView(InternalView):
    @extend_schema(request=DeductRequestSerializer, responses=DeductResultSerializer)
    def post(self, request: Request) -> Response:
        v = well_formed_request(request.data, with_request_id=True) or _validated(
            DeductRequestSerializer, request
        )
        d = quota_deduct(
            namespace=v["namespace"], service=v["service"], count=v["count"], request_id=v["request_id"]
        )
        return Response(deduct_result(d))


class DeductQuotaBatchView(InternalView):
    """Up to 1,000 deductions in one call, each idempotent by its request id; per-item results
    (``billing.quota_batch``). Items refused (balance, unknown service or namespace) carry the
    error the single endpoint would answer; the others are applied."""

    @extend_schema(request=DeductBatchRequestSerializer, responses=DeductBatchResultSerializer)
    def post(self, request: Request) -> Response:
        items = well_formed_items(request.data)
        if items is None:  # the serializer judges anything unusual, so errors keep their paths
            ser = DeductBatchRequestSerializer(data=request.data)
            ser.is_valid(raise_exception=True)
            items = [DeductItem(**item) for item in ser.validated_data["items"]]
        results = [_batch_item(result) for result in quota_deduct_batch(items=items)]
        deducted = sum(1 for r in results if r["ok"])
        return Response({"deducted": deducted, "refused": len(results) - deducted, "results": results})


def _batch_item(result: ItemResult) -> dict[str, Any]:
    if result.deduction is not None:
        return {
            "request_id": result.request_id,
            "ok": True,
            "result": deduct_result(result.deduction),
            "error": None,
        }
    error = result.error
    assert error is not None
    return {
        "request_id": result.request_id,
        "ok": False,
        "result": None,
        "error": {"code": int(error.code_for("billing")), "message": error.message},
    }


def _money_text(value: Decimal) -> str:
    """What ``MoneyField`` renders (4 places, plain notation), without a serializer per call."""
    return f"{value.quantize(MONEY_PLACES):f}"


def deduct_result(d: QuotaDeduction) -> dict[str, Any]:
    """The body of ``deduct-quota``: exactly ``DeductResultSerializer(...).data`` (the schema's
    serializer, asserted equal in tests), built by hand because it is on the hot path."""
    u = d.usage
    records: list[dict[str, Any]] = []
    if u.free_count:
        records.append(
            {"type": "free", "count": u.free_count, "amount": _money_text(ZERO), "ledger_entry_id": None}
        )
    if u.paid_count:
        records.append(
            {
                "type": "paid",
                "count": u.paid_count,
                "amount": _money_text(u.amount),
                "ledger_entry_id": u.ledger_entry_id,
            }
        )
    return {
        "request_id": u.request_id,
        "free_count": u.free_count,
        "paid_count": u.paid_count,
        "amount": _money_text(u.amount),
        "balance": _money_text(u.balance_after),
        "replayed": d.replayed,
        "records": records,
    }


class PaymentCallbackView(APIView):
    """The provider's signed callback. Authenticated only by ``X-Tally-Signature``."""

    error_family = "billing"
    validation_error_code = ErrorCode.BILLING_INVALID_PARAMETERS
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=CallbackSerializer,
        responses=CallbackResultSerializer,
        parameters=[OpenApiParameter(HEADER, str, OpenApiParameter.HEADER, required=True)],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        raw = request._request.body  # the exact bytes that were signed; read before request.data
        verify(request.headers.get(HEADER), raw)
        try:
            payload = json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise_invalid({"body": ["must be a JSON object"]})
        if not isinstance(payload, dict):
            raise_invalid({"body": ["must be a JSON object"]})
        ser = CallbackSerializer(data=payload)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        result = recharge_handle_callback(
            recharge_order_id=v["recharge_order_id"],
            payment_id=v["payment_id"],
            amount=v["amount"],
            status=v["status"],
        )
        if result.outcome == "review":
            raise RechargeAmountMismatch(
                result.message, recharge_order_id=result.order.public_id, status=result.order.status
            )
        body = {
            "recharge_order_id": result.order.public_id,
            "status": result.order.status,
            "outcome": result.outcome,
        }
        return Response(CallbackResultSerializer(body).data, status=status.HTTP_200_OK)
