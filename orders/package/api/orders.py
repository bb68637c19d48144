"""``/api/v1/package-orders`` (docs/package-orders.md): list, create (``drytry=1``: its
price), detail, cancel and charge; thin views over ``orders.package.services``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing.idempotency import idempotent
from billing.tenancy import resolve_account
from config.api.pagination import PageSizePagination
from config.api.validation import raise_invalid
from orders.engine.drytry import DRYTRY_PARAM, drytry_requested
from orders.package import previews, specs
from orders.package import services as svc
from orders.package.api.base import (
    IDEMPOTENCY_PARAM,
    NS_PARAM,
    PAGE_PARAMS,
    PackageApiView,
    jsonable,
    order_of,
    visible_rows,
)
from orders.package.api.preview import create_preview_repr
from orders.package.api.serializers import (
    OperationOutSerializer,
    PackageOrderCreateSerializer,
    PackageOrderDetailOutSerializer,
    PackageOrderOutSerializer,
    PreviewOutSerializer,
)
from orders.package.models import PackageOrder
from orders.package.selectors import order_detail_context


class PackageOrdersView(PackageApiView):
    replica_reads = True  # GET: a list or report, from the replica when one is configured (config/replica.py)

    preview_handlers = frozenset({"post"})

    @extend_schema(
        summary="List package orders",
        parameters=[NS_PARAM, *PAGE_PARAMS, OpenApiParameter("status", str, required=False)],
        responses=PackageOrderOutSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        orders = PackageOrder.objects.select_related("account")
        qs = visible_rows(request, orders, "account_id").order_by("-id")
        status = request.query_params.get("status")
        if status:
            if status not in ("unpaid", "paid", "canceled"):
                raise_invalid({"status": ["must be unpaid, paid or canceled"]})
            qs = qs.filter(status=status)
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(qs, request, self)
        return paginator.get_paginated_response(PackageOrderOutSerializer(page, many=True).data)

    @extend_schema(
        summary="Create a package order (NBCreatePrdOrder); drytry=1: only its cost, nothing written",
        request=PackageOrderCreateSerializer,
        responses={201: OperationOutSerializer, 200: PreviewOutSerializer},
        parameters=[DRYTRY_PARAM, IDEMPOTENCY_PARAM],
    )
    def post(self, request: Request) -> Response:
        if drytry_requested(request):
            account, v, products = self._input(request)
            quote = previews.package_order_create_preview(
                products=products, account_id=account.pk, coupon=v.get("coupon")
            )
            return Response(create_preview_repr(quote))
        return self._create(request)

    def _input(self, request: Request) -> tuple[Any, dict[str, Any], list[specs.ProductSpec]]:
        s = PackageOrderCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        account = resolve_account(request.user, v["order_user_id"])
        products = [
            specs.ProductSpec(
                prod_id=p["prod_id"],
                prod_name=p["prod_name"],
                plan_id=p["plan"]["plan_id"],
                attrs={a["attr_id"]: jsonable(a["attr_value"]) for a in p["plan"]["attrs_id_value"]},
                instances=[
                    specs.InstanceSpec(prod_inst_id_ext=i["id"], is_auto_renew=bool(i["is_auto_renew"]))
                    for i in p["prod_instance_ext_array"]
                ],
            )
            for p in v["order_product_set"]
        ]
        return account, v, products

    @idempotent
    def _create(self, request: Request) -> Response:
        account, v, products = self._input(request)
        result = svc.package_order_create(
            account_id=account.pk,
            app_id=v["app_id"],
            order_user_name=v["order_user_name"],
            description=v["description"],
            extra_info=jsonable(v["extra_info"]),
            products=products,
            actor=request.user,
            coupon=v.get("coupon"),
        )
        return Response(OperationOutSerializer(result).data, status=201)


class PackageOrderDetailView(PackageApiView):
    @extend_schema(
        summary="A package order with instances, components, bills and consume orders",
        responses=PackageOrderDetailOutSerializer,
    )
    def get(self, request: Request, order_id: str) -> Response:
        order = order_of(request, order_id)
        return Response(PackageOrderDetailOutSerializer(order, context=order_detail_context(order)).data)


class PackageOrderCancelView(PackageApiView):
    @extend_schema(
        summary="Cancel an unpaid package order (NBCancelPrdOrder)",
        request=None,
        responses=PackageOrderOutSerializer,
    )
    def post(self, request: Request, order_id: str) -> Response:
        order = svc.package_order_cancel(order_pk=order_of(request, order_id).pk, actor=request.user)
        order = PackageOrder.objects.select_related("account").get(pk=order.pk)
        return Response(PackageOrderOutSerializer(order).data)


class PackageOrderChargeView(PackageApiView):
    @extend_schema(
        summary="Pay every unpaid bill of the order in one charge (NBChargePrdOrder)",
        request=None,
        responses=OperationOutSerializer,
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request, order_id: str) -> Response:
        result = svc.package_order_charge(order_pk=order_of(request, order_id).pk, actor=request.user)
        return Response(OperationOutSerializer(result).data)
