"""The vehicle-order API (API.md "Vehicle orders"): thin views over ``orders.vehicle`` services."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from billing.acting import MoneyCallerMixin
from billing.idempotency import idempotent
from billing.tenancy import namespace_from_request, resolve_account
from config.api.pagination import DEFAULT_SIZE, MAX_SIZE
from config.api.validation import raise_invalid
from config.powers import has_staff_power
from orders.engine.drytry import DRYTRY_PARAM, PreviewGuardMixin, drytry_requested
from orders.vehicle import placing, previews, services
from orders.vehicle.api.serializers import (
    CancelRequest,
    DriverOrderRequest,
    PlacedSerializer,
    PlanOrderRequest,
    SaleOrderRequest,
    UnderwriteRequest,
    VehicleOrderDetailSerializer,
    VehicleOrderEventListSerializer,
    VehicleOrderEventSerializer,
    VehicleOrderListSerializer,
    VehicleOrderSerializer,
    VehiclePreviewSerializer,
)
from orders.vehicle.models import VehicleOrder, VehicleOrderState, VehicleOrderType
from orders.vehicle.selectors import (
    vehicle_order_cursor,
    vehicle_order_events,
    vehicle_order_get,
    vehicle_order_list,
    vehicle_order_list_after,
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="a repeat with the same key and body returns the first response and changes nothing",
)
ORDER_ID = OpenApiParameter("order_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
DETAIL_OR_PREVIEW = PolymorphicProxySerializer(
    component_name="VehicleOrderOrPreview",
    serializers=[VehicleOrderDetailSerializer, VehiclePreviewSerializer],
    resource_type_field_name=None,
)
UNDERWRITE_PERMISSION = "orders.underwrite_vehicleorder"  # the admin action's permission too


def may_underwrite(user: Any) -> bool:
    """Underwriting is a permission (the Finance group has it), never the is_staff flag (issue 13)."""
    return has_staff_power(user, UNDERWRITE_PERMISSION)


MAX_OFFSET = 10**9  # far beyond any real list; keeps OFFSET inside the database's integer range
LIST_PARAMS = [
    OpenApiParameter("offset", OpenApiTypes.INT, description=">= 0; with limit, instead of page/size"),
    OpenApiParameter("limit", OpenApiTypes.INT, description="1..100 (default 30)"),
    OpenApiParameter("page", OpenApiTypes.INT, description=">= 1"),
    OpenApiParameter("size", OpenApiTypes.INT, description="1..100 (default 30)"),
    OpenApiParameter("type", OpenApiTypes.INT, enum=VehicleOrderType.values),
    OpenApiParameter("state_code", OpenApiTypes.INT, enum=VehicleOrderState.values),
    OpenApiParameter("vid", OpenApiTypes.UUID),
    OpenApiParameter(
        "after",
        OpenApiTypes.STR,
        description="the `next` of a previous page: the orders after its last one (keyset, any depth at "
        "the cost of the first page); with limit or size, not with offset or page",
    ),
]


def _int_param(
    raw: str | None, name: str, errors: dict[str, list[str]], *, low: int, high: int | None = None
) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:  # int() takes " 1", "1_0", "１"
        errors[name] = ["must be a whole number"]
        return None
    value = int(raw)
    if value < low or (high is not None and value > high):
        errors[name] = [f"must be between {low} and {high}" if high is not None else f"must be >= {low}"]
        return None
    return value


class VehicleOrderViewSet(MoneyCallerMixin, PreviewGuardMixin, viewsets.ViewSet):
    """Plan, driver and sale orders of the caller (``billing.view_any_account``: everyone's)."""

    replica_reads = True  # GET: a list or report, from the replica when one is configured (config/replica.py)

    error_family = "vehicle"
    preview_handlers = frozenset({"pay", "cancel"})

    def _placed(self, order: VehicleOrder) -> Response:
        return Response(PlacedSerializer(order).data, status=201)

    def _body(self, request: Request) -> dict[str, Any]:
        if not isinstance(request.data, dict):
            raise_invalid({"non_field_errors": ["the body must be a JSON object"]})
        return request.data

    @extend_schema(
        request=PlanOrderRequest,
        responses={201: PlacedSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="vehicle_plan_order_place",
    )
    @idempotent
    def place_plan(self, request: Request) -> Response:
        body = self._body(request)
        account = resolve_account(request.user, namespace_from_request(request))
        order = placing.place_plan_order(
            owner=request.user,
            account=account,
            vid=body.get("vid"),
            plans=body.get("plans"),
            qid=body.get("qid"),
            pmid=body.get("pmid"),
            service_ratio=body.get("service_ratio"),
            summary=body.get("summary"),
            payment=body.get("payment"),
            expect_at=body.get("expect_at"),
        )
        return self._placed(order)

    @extend_schema(
        request=DriverOrderRequest,
        responses={201: PlacedSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="vehicle_driver_order_place",
    )
    @idempotent
    def place_driver(self, request: Request) -> Response:
        body = self._body(request)
        account = resolve_account(request.user, namespace_from_request(request))
        order = placing.place_driver_order(
            owner=request.user,
            account=account,
            vid=body.get("vid"),
            dids=body.get("dids"),
            summary=body.get("summary"),
            payment=body.get("payment"),
        )
        return self._placed(order)

    @extend_schema(
        request=SaleOrderRequest,
        responses={201: PlacedSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="vehicle_sale_order_place",
    )
    @idempotent
    def place_sale(self, request: Request) -> Response:
        body = self._body(request)
        account = resolve_account(request.user, namespace_from_request(request))
        order = placing.place_sale_order(
            owner=request.user,
            account=account,
            vid=body.get("vid"),
            qid=body.get("qid"),
            items=body.get("items"),
            summary=body.get("summary"),
            payment=body.get("payment"),
        )
        return self._placed(order)

    @extend_schema(
        parameters=LIST_PARAMS, responses={200: VehicleOrderListSerializer}, operation_id="vehicle_order_list"
    )
    def list(self, request: Request) -> Response:
        q = request.query_params
        errors: dict[str, list[str]] = {}
        type_ = _int_param(q.get("type"), "type", errors, low=0, high=2)
        state_code = _int_param(q.get("state_code"), "state_code", errors, low=1, high=9)
        vid = None
        if q.get("vid"):
            try:
                vid = uuid.UUID(q["vid"])
            except ValueError:
                errors["vid"] = ["must be a UUID"]
        offset_mode = "offset" in q or "limit" in q
        offset = _int_param(q.get("offset"), "offset", errors, low=0, high=MAX_OFFSET)
        limit = _int_param(q.get("limit"), "limit", errors, low=1, high=MAX_SIZE)
        page = _int_param(q.get("page"), "page", errors, low=1, high=MAX_OFFSET)
        size = _int_param(q.get("size"), "size", errors, low=1)
        after = q.get("after") or None
        if after is not None and (q.get("offset") or q.get("page")):
            errors["after"] = ["cannot be combined with offset or page"]
        if errors:
            raise_invalid(errors)
        if after is not None:
            count = limit or min(size or DEFAULT_SIZE, MAX_SIZE)
            total, rows, more = vehicle_order_list_after(
                user=request.user, after=after, limit=count, type=type_, state_code=state_code, vid=vid
            )
            return self._list(total, rows, more)
        if offset_mode:
            start, count = offset or 0, limit or DEFAULT_SIZE
        else:
            count = min(size or DEFAULT_SIZE, MAX_SIZE)
            start = ((page or 1) - 1) * count
        total, rows = vehicle_order_list(
            user=request.user, offset=start, limit=count, type=type_, state_code=state_code, vid=vid
        )
        if not offset_mode and page and page > 1 and start >= total:
            last_page = max(1, -(-total // count))
            raise_invalid({"page": [f"out of range: there are {last_page} page(s)"]})
        return self._list(total, rows, start + len(rows) < total)

    def _list(self, total: int, rows: Sequence[VehicleOrder], more: bool) -> Response:
        """``next`` continues after the page's last order (``?after=``); null at the end."""
        next_ = vehicle_order_cursor(rows[-1]) if rows and more else None
        return Response(
            {"total": total, "results": VehicleOrderSerializer(rows, many=True).data, "next": next_}
        )

    @extend_schema(
        parameters=[ORDER_ID], responses={200: VehicleOrderDetailSerializer}, operation_id="vehicle_order_get"
    )
    def retrieve(self, request: Request, order_id: str) -> Response:
        order = vehicle_order_get(user=request.user, order_id=order_id)
        return Response(VehicleOrderDetailSerializer(order).data)

    @extend_schema(
        parameters=[ORDER_ID],
        responses={200: VehicleOrderEventListSerializer},
        operation_id="vehicle_order_events",
    )
    def events(self, request: Request, order_id: str) -> Response:
        rows = vehicle_order_events(user=request.user, order_id=order_id)
        return Response({"total": len(rows), "results": VehicleOrderEventSerializer(rows, many=True).data})

    def _detail(self, request: Request, order_id: str) -> Response:
        order = vehicle_order_get(user=request.user, order_id=order_id)
        return Response(VehicleOrderDetailSerializer(order).data)

    @extend_schema(
        request=None,
        parameters=[ORDER_ID, DRYTRY_PARAM, IDEMPOTENCY_HEADER],
        responses={200: DETAIL_OR_PREVIEW},
        operation_id="vehicle_order_pay",
    )
    def pay(self, request: Request, order_id: str) -> Response:
        if drytry_requested(request):
            order = vehicle_order_get(user=request.user, order_id=order_id, write=True)
            return Response(previews.vehicle_pay_preview(order_id=order.order_id))
        return self._pay(request, order_id)

    @idempotent
    def _pay(self, request: Request, order_id: str) -> Response:
        order = vehicle_order_get(user=request.user, order_id=order_id, write=True)
        services.vehicle_order_pay(order_id=order.order_id, actor=request.user)
        return self._detail(request, order_id)

    @extend_schema(
        request=CancelRequest,
        parameters=[ORDER_ID, DRYTRY_PARAM, IDEMPOTENCY_HEADER],
        responses={200: DETAIL_OR_PREVIEW},
        operation_id="vehicle_order_cancel",
    )
    def cancel(self, request: Request, order_id: str) -> Response:
        if drytry_requested(request):
            order = vehicle_order_get(user=request.user, order_id=order_id, write=True)
            body = CancelRequest(data=request.data if isinstance(request.data, dict) else {})
            body.is_valid(raise_exception=True)
            return Response(previews.vehicle_cancel_preview(order_id=order.order_id))
        return self._cancel(request, order_id)

    @idempotent
    def _cancel(self, request: Request, order_id: str) -> Response:
        order = vehicle_order_get(user=request.user, order_id=order_id, write=True)
        body = CancelRequest(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        services.vehicle_order_cancel(
            order_id=order.order_id, actor=request.user, reason=body.validated_data.get("reason", "")
        )
        return self._detail(request, order_id)

    @extend_schema(
        request=UnderwriteRequest,
        parameters=[ORDER_ID, IDEMPOTENCY_HEADER],
        responses={200: VehicleOrderDetailSerializer},
        operation_id="vehicle_order_underwrite",
    )
    @idempotent
    def underwrite(self, request: Request, order_id: str) -> Response:
        if not may_underwrite(request.user):
            raise PermissionDenied(f"underwriting needs the permission {UNDERWRITE_PERMISSION}")
        order = vehicle_order_get(user=request.user, order_id=order_id, any_owner=True)
        body = UnderwriteRequest(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        services.vehicle_order_underwrite(
            order_id=order.order_id,
            actor=request.user,
            result=body.validated_data["result"],
            reason=body.validated_data.get("reason", ""),
        )
        order = vehicle_order_get(user=request.user, order_id=order_id, any_owner=True)
        return Response(VehicleOrderDetailSerializer(order).data)
