"""``/usageapi/v1`` (docs/purchase-orders.md): thin views over
``orders.purchase.services`` and ``usage.selectors``. Client systems of the origin use these paths,
parameters, field names and codes unchanged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.acting import MoneyCallerMixin
from billing.idempotency import idempotent
from billing.tenancy import is_write, namespace_from_request, refuse_read_only_act, resolve_account, visible
from config.api.pagination import PageSizePagination
from config.api.parsers import OriginBodyMixin
from config.api.validation import raise_invalid
from config.money import ZERO, money2
from orders.engine.drytry import DRYTRY_PARAM, PreviewGuardMixin, drytry_requested
from orders.engine.models import SubscriptionLine
from orders.purchase import previews
from orders.purchase import services as svc
from orders.purchase.api.serializers import (
    DrytrySerializer,
    OrderActionResultSerializer,
    OrderActionSerializer,
    OrderCreateSerializer,
    OrderEnvelopeSerializer,
    OrderMoneySerializer,
    PurchaseOrderListItemSerializer,
    PurchaseOrderSerializer,
)
from orders.purchase.errors import PurchaseOrderNotFound
from orders.purchase.models import PurchaseOrder, PurchaseOrderStatus
from orders.purchase.switch import purchase_order_modify

NS_PARAM = OpenApiParameter("namespace", str, required=False, description="defaults to your own")
IDEMPOTENCY_PARAM = OpenApiParameter(
    "Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False, description="<= 255 chars"
)


class UsageApiView(MoneyCallerMixin, OriginBodyMixin, PreviewGuardMixin, APIView):
    error_family = "usageapi"


def _visible(
    request: Request, qs: QuerySet[Any], field: str = "account_id", namespace: str | None = None
) -> QuerySet[Any]:
    """Limit to the namespace named, or (none named) every account the user may see."""
    ns, write = namespace or namespace_from_request(request), is_write(request)
    if ns:
        return qs.filter(**{field: resolve_account(request.user, ns, write=write).pk})
    return visible(qs, request.user, field=field, write=write)


def order_lookup(request: Request, ident: str, namespace: str | None = None) -> PurchaseOrder:
    """``{id}`` is the int id or the ``order_id`` string; another tenant's order is 404/3318."""
    orders = PurchaseOrder.objects.select_related("account", "plan", "creator")
    qs = _visible(request, orders, namespace=namespace)
    q = Q(order_id=ident)
    if ident.isdigit() and len(ident) < 19:
        q |= Q(pk=int(ident))
    order = qs.filter(q).first()
    if order is None:
        if is_write(request):
            refuse_read_only_act(request.user, PurchaseOrder.objects.filter(q).exists)
        raise PurchaseOrderNotFound(f"order {ident} not found")
    return order


def _dt(value: datetime) -> Any:
    """Datetimes of hand-built answers render as the serializers render them."""
    return serializers.DateTimeField().to_representation(value)


def _order_data(order: PurchaseOrder) -> dict[str, Any]:
    return dict(PurchaseOrderSerializer(order).data)


class PurchaseOrdersView(UsageApiView):
    replica_reads = True  # GET: a list or report, from the replica when one is configured (config/replica.py)

    preview_handlers = frozenset({"post"})

    @extend_schema(
        operation_id="usageapi_orders_list",
        summary="List purchase orders (newest start first; no status = every non-pending order)",
        parameters=[
            NS_PARAM,
            OpenApiParameter(
                "status",
                str,
                enum=["pending", "consuming", "renewalfailed", "renewfailed", "ended"],
                required=False,
            ),
            OpenApiParameter("region", str, required=False),
            OpenApiParameter("resource_name", str, required=False),
            OpenApiParameter("type", str, required=False, description="plan type"),
        ],
        responses=PurchaseOrderListItemSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        account = resolve_account(request.user, namespace_from_request(request), write=False)
        line_paid = (
            SubscriptionLine.objects.filter(subscription_id=OuterRef("subscription_id"))
            .order_by("id")
            .values("paid_until")[:1]
        )
        qs = (
            PurchaseOrder.objects.select_related("account", "plan", "creator")
            .filter(account_id=account.pk)  # pk None: no wallet yet, no orders
            .annotate(line_paid_until=Subquery(line_paid))
        )
        params = request.query_params
        errors: dict[str, list[str]] = {}
        status = params.get("status")
        if status:
            member = PurchaseOrderStatus.from_label(status)
            if member is None:
                errors["status"] = ["one of pending, consuming, renewalfailed (renewfailed), ended"]
            else:
                qs = qs.filter(status=member)
        else:
            qs = qs.exclude(status=PurchaseOrderStatus.PENDING)
        if errors:
            raise_invalid(errors)
        if params.get("region"):
            qs = qs.filter(region=params["region"])
        if params.get("resource_name"):
            qs = qs.filter(resource_name=params["resource_name"])
        if params.get("type"):
            qs = qs.filter(plan__plan_type=params["type"])
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(qs.order_by("-start_time", "-id"), request, view=self)
        return paginator.get_paginated_response(PurchaseOrderListItemSerializer(page, many=True).data)

    @extend_schema(
        operation_id="usageapi_orders_create",
        summary="Create a purchase order (drytry=1: only the price, nothing written)",
        parameters=[DRYTRY_PARAM, OpenApiParameter("region", str, required=False), IDEMPOTENCY_PARAM],
        request=OrderCreateSerializer,
        responses={201: OrderMoneySerializer, 200: DrytrySerializer},
    )
    def post(self, request: Request) -> Response:
        if drytry_requested(request):
            return self._create(request, drytry=True)  # writes nothing: no Idempotency-Key row either
        return self._create_once(request)

    @idempotent
    def _create_once(self, request: Request) -> Response:
        return self._create(request, drytry=False)

    def _create(self, request: Request, *, drytry: bool) -> Response:
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise_invalid({"body": ["must be a JSON object"]})
        account = resolve_account(request.user, namespace_from_request(request))
        region = body.get("region") or request.query_params.get("region")
        checked = OrderCreateSerializer(data={**body, "region": region})
        checked.is_valid(raise_exception=True)
        fields = {name: value for name, value in checked.validated_data.items() if name != "namespace"}
        result = svc.purchase_order_create(account=account, creator=request.user, drytry=drytry, **fields)
        applied = {"discount": money2(result.discount)} if result.coupon else {}
        if result.order is None:
            preview = {**result.preview, "status": "pending"}
            body = {"drytry": True, "money": money2(result.money), **applied, "order": preview}
            return Response(body, status=200)
        if result.coupon:
            applied["coupon"] = result.coupon
        return Response(
            {"money": money2(result.money), **applied, "order": _order_data(result.order)}, status=201
        )


class PurchaseOrderDetailView(UsageApiView):
    preview_handlers = frozenset({"put"})

    @extend_schema(
        operation_id="usageapi_orders_get",
        parameters=[NS_PARAM],
        responses=OrderEnvelopeSerializer,
    )
    def get(self, request: Request, order_id: str) -> Response:
        return Response({"order": _order_data(order_lookup(request, order_id))})

    @extend_schema(
        operation_id="usageapi_orders_update",
        summary="cancel | renew | modify (switch plan) a purchase order (drytry=1: only the money)",
        parameters=[DRYTRY_PARAM, IDEMPOTENCY_PARAM],
        request=OrderActionSerializer,
        responses={200: OrderActionResultSerializer},
    )
    def put(self, request: Request, order_id: str) -> Response:
        if drytry_requested(request):
            return self._preview(request, order_id)
        return self._act(request, order_id)

    def _action(self, request: Request) -> tuple[str, dict[str, Any]]:
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise_invalid({"body": ["must be a JSON object"]})
        checked = OrderActionSerializer(data=body)
        checked.is_valid(raise_exception=True)
        return checked.validated_data["action"], checked.validated_data

    def _preview(self, request: Request, order_id: str) -> Response:
        """The same checks and prices as ``_act``, nothing written (orders.purchase.previews)."""
        action, body = self._action(request)
        order = order_lookup(request, order_id)
        if action == "cancel":
            order = previews.purchase_cancel_preview(order_pk=order.pk)
            return Response({"drytry": True, "money": money2(ZERO), "order": _order_data(order)})
        if action == "renew":
            order, renew = previews.purchase_renew_preview(order_pk=order.pk)
            return Response(
                {
                    "drytry": True,
                    "money": money2(renew.money),
                    "order": _order_data(order),
                    "period_start": _dt(renew.period.start),
                    "period_end": _dt(renew.period.end),
                }
            )
        order, switch = previews.purchase_modify_preview(order_pk=order.pk, plan_id=body.get("plan_id"))
        new = {
            "namespace": order.account.namespace,
            "region": order.region,
            "quantities": order.quantities,
            "plan_id": switch.plan.plan_id,
            "plan_type": switch.plan.plan_type,
            "resource_name": order.resource_name,
            "start_time": _dt(switch.period.start),
            "deadline": _dt(switch.period.end),
            "status": "pending",
        }
        return Response(
            {
                "drytry": True,
                "money": money2(switch.money),
                "credit": money2(switch.credit),
                "price": money2(switch.price),
                "order": new,
                "old_order": _order_data(order),
            }
        )

    @idempotent
    def _act(self, request: Request, order_id: str) -> Response:
        action, body = self._action(request)
        order = order_lookup(request, order_id)
        if action == "cancel":
            ended, _ = svc.purchase_order_cancel(order_pk=order.pk, actor=request.user, reason="api")
            return Response({"money": money2(ZERO), "order": _order_data(_reload(ended))})
        if action == "renew":
            renewed = svc.purchase_order_renew(order_pk=order.pk, actor=request.user)
            return Response({"money": money2(renewed.money), "order": _order_data(_reload(renewed.order))})
        switched = purchase_order_modify(order_pk=order.pk, plan_id=body.get("plan_id"), actor=request.user)
        return Response(
            {
                "money": money2(switched.money),
                "credit": money2(switched.credit),
                "order": _order_data(_reload(switched.new)),
                "old_order": _order_data(_reload(switched.old)),
            }
        )


def _reload(order: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.select_related("account", "plan", "creator").get(pk=order.pk)
