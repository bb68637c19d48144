"""``/api/v1/bills``, ``/api/v1/consume-orders``, ``/api/v1/meter-events`` and
``/api/v1/meter-events/void`` (docs/package-orders.md): what package orders billed and gathered into
payments, and the metered quantities clients report (``orders.package.metering``) or void
(``orders.package.metering_void``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing.tenancy import namespace_from_request, resolve_account
from config.api.pagination import PageSizePagination
from config.api.validation import raise_invalid
from orders.engine.models import SubscriptionLine
from orders.package.api.base import NS_PARAM, PAGE_PARAMS, PackageApiView, instance_of, visible_rows
from orders.package.api.serializers import (
    BillOutSerializer,
    ConsumeOrderOutSerializer,
    MeterEventsSerializer,
    MeterEventsVoidSerializer,
    MeterResultOutSerializer,
    MeterVoidOutSerializer,
)
from orders.package.metering import meter_events_ingest
from orders.package.metering_void import meter_events_void
from orders.package.models import ConsumeOrder
from orders.package.selectors import bills_context, consume_orders_context
from usage.models import UsageRecord, UsageSource, UsageStatus


class BillsView(PackageApiView):
    replica_reads = True  # GET: a list or report, from the replica when one is configured (config/replica.py)

    @extend_schema(
        summary="Bills (usage records) of package orders",
        parameters=[
            NS_PARAM,
            *PAGE_PARAMS,
            OpenApiParameter("order_id", str, required=False),
            OpenApiParameter("instance", str, required=False, description="prod_inst_id_ext"),
            OpenApiParameter("status", str, required=False, enum=list(UsageStatus.values)),
        ],
        responses=BillOutSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = visible_rows(request, UsageRecord.objects.filter(source=UsageSource.PACKAGE), "account_id")
        p = request.query_params
        if p.get("order_id"):
            qs = qs.filter(order_ref=p["order_id"])
        if p.get("instance"):
            inst = instance_of(request, p["instance"])
            qs = qs.filter(
                line_id__in=SubscriptionLine.objects.filter(subscription_id=inst.subscription_id).values("pk")
            )
        if p.get("status"):
            if p["status"] not in UsageStatus.values:
                raise_invalid({"status": [f"must be one of {', '.join(UsageStatus.values)}"]})
            qs = qs.filter(status=p["status"])
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(qs.order_by("-period_start", "-id"), request, self)
        bills = BillOutSerializer(page, many=True, context=bills_context(page))
        return paginator.get_paginated_response(bills.data)


class ConsumeOrdersView(PackageApiView):
    replica_reads = True  # GET: a list or report, from the replica when one is configured (config/replica.py)

    @extend_schema(
        summary="Consume orders (merged payments: new, renew, change)",
        parameters=[NS_PARAM, *PAGE_PARAMS, OpenApiParameter("order_id", str, required=False)],
        responses=ConsumeOrderOutSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = visible_rows(
            request, ConsumeOrder.objects.select_related("order", "instance"), "order__account_id"
        )
        if request.query_params.get("order_id"):
            qs = qs.filter(order__order_id=request.query_params["order_id"])
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(qs.order_by("-id"), request, self)
        orders = ConsumeOrderOutSerializer(page, many=True, context=consume_orders_context(page))
        return paginator.get_paginated_response(orders.data)


class MeterEventsView(PackageApiView):
    @extend_schema(
        summary="Report metered quantities (up to 1000 events a call)",
        request=MeterEventsSerializer,
        responses=MeterResultOutSerializer,
    )
    def post(self, request: Request) -> Response:
        s = MeterEventsSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        account = resolve_account(request.user, namespace_from_request(request))
        result = meter_events_ingest(account_id=account.pk, events=s.validated_data["events"])
        return Response(MeterResultOutSerializer(result).data)


class MeterEventsVoidView(PackageApiView):
    @extend_schema(
        summary="Void meter events (up to 1000 ids a call): unbilled ones are never billed, billed ones "
        "are refunded by a correction record",
        request=MeterEventsVoidSerializer,
        responses=MeterVoidOutSerializer,
    )
    def post(self, request: Request) -> Response:
        s = MeterEventsVoidSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        account = resolve_account(request.user, namespace_from_request(request))
        result = meter_events_void(account_id=account.pk, event_ids=s.validated_data["event_ids"])
        return Response(MeterVoidOutSerializer(result).data)
