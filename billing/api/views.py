"""Public billing API (docs/billing.md): wallet, recharges, records. Thin: services do the work."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.acting import MoneyCallerMixin
from billing.alerts.api import runway_fields
from billing.api.serializers import (
    AccountSerializer,
    RechargeCreatedSerializer,
    RechargeCreateSerializer,
    RechargeOrderSerializer,
    RecordPageSerializer,
)
from billing.errors import RechargeNotFound
from billing.idempotency import idempotent
from billing.models import RechargeOrder
from billing.recharges import recharge_create
from billing.selectors import RECORD_KINDS, account_quotas, account_records
from billing.tenancy import namespace_from_request, resolve_account, visible
from config import clock
from config.api.errors import ErrorCode
from config.api.pagination import AFTER_PARAM, after_param, parse_page_params
from config.api.validation import raise_invalid

NAMESPACE_PARAM = OpenApiParameter("namespace", str, required=False, description="defaults to your own")


class BillingView(MoneyCallerMixin, APIView):
    error_family = "billing"
    validation_error_code = ErrorCode.BILLING_INVALID_PARAMETERS


class AccountView(BillingView):
    """The wallet: balance, this month's free quota per metered service, the daily burn, the
    runway at that burn and the alert thresholds in force."""

    @extend_schema(parameters=[NAMESPACE_PARAM], responses=AccountSerializer)
    def get(self, request: Request) -> Response:
        account = resolve_account(request.user, namespace_from_request(request), write=False)
        data = {
            "namespace": account.namespace,
            "balance": account.balance,
            "currency": account.currency,
            "quotas": account_quotas(account=account),
            **runway_fields(account),
        }
        return Response(AccountSerializer(data).data)


class RechargeViewSet(MoneyCallerMixin, viewsets.ViewSet):
    error_family = "billing"
    validation_error_code = ErrorCode.BILLING_INVALID_PARAMETERS
    lookup_field = "public_id"

    @extend_schema(request=RechargeCreateSerializer, responses={201: RechargeCreatedSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        ser = RechargeCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        account = resolve_account(request.user, ser.validated_data.get("namespace") or None)
        order = recharge_create(
            account=account,
            amount=ser.validated_data["amount"],
            currency=ser.validated_data.get("currency"),
            payment_method=ser.validated_data["payment_method"],
            actor=request.user,
        )
        body = {"recharge_order_id": order.public_id, "pay_url": order.pay_url, "status": order.status}
        return Response(RechargeCreatedSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=RechargeOrderSerializer)
    def retrieve(self, request: Request, public_id: str) -> Response:
        qs = RechargeOrder.objects.select_related("account").filter(public_id=public_id)
        order = visible(qs, request.user).first()
        if order is None:
            raise RechargeNotFound(f"recharge order {public_id} not found")
        return Response(RechargeOrderSerializer(order).data)


def _parse_bound(raw: str | None, name: str, errors: dict[str, list[str]], *, end: bool) -> datetime | None:
    """An ISO datetime (timezone-aware, or local time), or a date meaning that whole local day."""
    if raw in (None, ""):
        return None
    assert raw is not None
    try:
        dt = parse_datetime(raw)
        d: date | None = None if dt else parse_date(raw)
    except ValueError:
        dt, d = None, None
    if dt is None and d is None:
        errors[name] = ["must be an ISO date or datetime"]
        return None
    if dt is None:
        assert d is not None
        day = d + timedelta(days=1) if end else d
        return datetime.combine(day, time.min, tzinfo=clock.local_tz())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=clock.local_tz())
    return dt


class RecordsView(BillingView):
    """Ledger entries and quota usage records of one wallet, newest first."""

    replica_reads = True  # a list: read from the replica when one is configured (config/replica.py)

    @extend_schema(
        parameters=[
            NAMESPACE_PARAM,
            OpenApiParameter("kind", str, enum=RECORD_KINDS, required=False),
            OpenApiParameter("from", str, required=False, description="ISO date or datetime (inclusive)"),
            OpenApiParameter(
                "to", str, required=False, description="ISO datetime (exclusive) or date (inclusive)"
            ),
            OpenApiParameter("page", int, required=False),
            OpenApiParameter("size", int, required=False),
            AFTER_PARAM,
        ],
        responses=RecordPageSerializer,
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        errors: dict[str, list[str]] = {}
        kind = params.get("kind") or None
        if kind is not None and kind not in RECORD_KINDS:
            errors["kind"] = [f"must be one of: {', '.join(RECORD_KINDS)}"]
        start = _parse_bound(params.get("from"), "from", errors, end=False)
        end = _parse_bound(params.get("to"), "to", errors, end=True)
        if start and end and start >= end:
            errors["to"] = ["must be after from"]
        after, use_after = after_param(request, errors, sources=2)
        if errors:
            raise_invalid(errors)
        page, size = parse_page_params(request)
        account = resolve_account(request.user, namespace_from_request(request), write=False)
        result = account_records(
            account=account,
            kind=kind,
            start=start,
            end=end,
            page=page,
            size=size,
            after=after,
            use_after=use_after,
        )
        last_page = max(1, -(-result.total // size))
        if not use_after and page > last_page:
            raise_invalid({"page": [f"out of range: there are {last_page} page(s)"]})
        data: dict[str, Any] = {"total": result.total, "results": result.results, "next": result.next}
        return Response(RecordPageSerializer(data).data)
