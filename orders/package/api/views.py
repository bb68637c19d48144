"""``/api/v1`` package orders (API.md "Package orders", seed 002): thin views over
``orders.package.services`` and ``orders.package.metering``. Error family ``package`` (34xx).
Another tenant's order or instance is 404, never 403."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.acting import MoneyCallerMixin
from billing.idempotency import idempotent
from billing.tenancy import is_write, namespace_from_request, refuse_read_only_act, resolve_account, visible
from config.api.pagination import PageSizePagination
from config.api.validation import raise_invalid
from config.money import money4
from orders.engine.drytry import DRYTRY_PARAM, PreviewGuardMixin, drytry_requested
from orders.engine.models import SubscriptionLine
from orders.package import previews
from orders.package import services as svc
from orders.package.api.preview import (
    OPERATION_OR_PREVIEW,
    change_preview_repr,
    create_preview_repr,
    renew_preview_repr,
)
from orders.package.api.serializers import (
    BillOutSerializer,
    ChangeConfigSerializer,
    ConsumeOrderOutSerializer,
    InstanceOpOutSerializer,
    MeterEventsSerializer,
    MeterResultOutSerializer,
    OperationOutSerializer,
    PackageOrderCreateSerializer,
    PackageOrderDetailOutSerializer,
    PackageOrderOutSerializer,
    PreviewOutSerializer,
    RenewSerializer,
)
from orders.package.errors import PackageInstanceNotFound, PackageOrderNotFound
from orders.package.instances import instance_change_config, instance_renew
from orders.package.lifecycle import instance_pause, instance_resume, instance_stop
from orders.package.metering import MAX_EVENTS, meter_events_ingest
from orders.package.models import ConsumeOrder, ConsumeOrderRecord, PackageOrder, ProductInstance
from usage.models import UsageRecord, UsageSource, UsageStatus

NS_PARAM = OpenApiParameter(
    "namespace", str, required=False, description="defaults to every account you may see"
)
IDEMPOTENCY_PARAM = OpenApiParameter(
    "Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False, description="<= 255 chars"
)
PAGE_PARAMS = [OpenApiParameter("page", int, required=False), OpenApiParameter("size", int, required=False)]


class PackageApiView(MoneyCallerMixin, PreviewGuardMixin, APIView):
    error_family = "package"


# --- lookups (tenancy) -----------------------------------------------------------------------------


def _visible(request: Request, qs: QuerySet[Any], field: str) -> QuerySet[Any]:
    ns = namespace_from_request(request) if request.method == "GET" else None
    if ns:
        return qs.filter(**{field: resolve_account(request.user, ns, write=False).pk})
    return visible(qs, request.user, field=field, write=is_write(request))


def _order(request: Request, order_id: str) -> PackageOrder:
    order = (
        _visible(request, PackageOrder.objects.select_related("account"), "account_id")
        .filter(order_id=order_id)
        .first()
    )
    if order is None:
        if is_write(request):
            refuse_read_only_act(request.user, PackageOrder.objects.filter(order_id=order_id).exists)
        raise PackageOrderNotFound(f"package order {order_id!r} not found")
    return order


def _instance(request: Request, ext: str) -> ProductInstance:
    """The instance ``ext`` among the caller's accounts (ids are unique per account, issue 13): a
    ``namespace`` (query, or body for writes) picks the account; without one, an id used by two of
    the caller's accounts is 3307 asking for it."""
    ns = namespace_from_request(request)
    qs = ProductInstance.objects.select_related("order").filter(prod_inst_id_ext=ext)
    if ns:
        qs = qs.filter(account_id=resolve_account(request.user, ns, write=is_write(request)).pk)
    else:
        qs = visible(qs, request.user, write=is_write(request))
    found = list(qs[:2])
    if len(found) > 1:
        raise_invalid({"namespace": [f"instance id {ext!r} is used by several of your namespaces: name one"]})
    inst = found[0] if found else None
    if inst is None:
        if is_write(request):
            refuse_read_only_act(request.user, ProductInstance.objects.filter(prod_inst_id_ext=ext).exists)
        raise PackageInstanceNotFound(f"instance {ext!r} not found")
    return inst


def jsonable(value: Any) -> Any:
    """JSON numbers with a fraction arrive as ``Decimal`` (never float); JSON columns cannot store
    that type, so such numbers are kept as their exact decimal string."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


# --- representations -------------------------------------------------------------------------------


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def order_repr(order: PackageOrder) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "namespace": order.account.namespace,
        "app_id": order.app_id,
        "order_user_name": order.order_user_name,
        "description": order.description,
        "extra_info": order.extra_info,
        "order_status": order.status,
        "cost": money4(order.cost),
        "amount_payable": money4(order.amount_payable),
        "created_at": _dt(order.created_at),
        "paid_at": _dt(order.paid_at),
        "canceled_at": _dt(order.canceled_at),
    }


def _line_instances(line_ids: Iterable[int]) -> dict[int, str]:
    return dict(
        SubscriptionLine.objects.filter(pk__in=set(line_ids)).values_list(
            "pk", "subscription__product_instance__prod_inst_id_ext"
        )
    )


def bills_repr(records: list[UsageRecord]) -> list[dict[str, Any]]:
    instances = _line_instances(r.line_id for r in records)
    return [
        {
            "id": r.pk,
            "order_id": r.order_ref,
            "instance": instances.get(r.line_id),
            "component_id": r.component_id,
            "kind": r.kind,
            "status": r.status,
            "period_start": _dt(r.period_start),
            "period_end": _dt(r.period_end),
            "quantity": money4(r.quantity),
            "unit_price": money4(r.unit_price),
            "amount": money4(r.amount),
            "paid_at": _dt(r.paid_at),
            "ledger_entry_id": r.ledger_entry_id,
        }
        for r in records
    ]


def consume_orders_repr(orders: list[ConsumeOrder]) -> list[dict[str, Any]]:
    links: dict[int, list[int]] = {}
    for co_id, rec_id in ConsumeOrderRecord.objects.filter(consume_order__in=orders).values_list(
        "consume_order_id", "record_id"
    ):
        links.setdefault(co_id, []).append(rec_id)
    return [
        {
            "id": co.pk,
            "order_id": co.order.order_id,
            "instance": co.instance.prod_inst_id_ext if co.instance else None,
            "type": co.type,
            "status": co.status,
            "amount": money4(co.amount),
            "bill_ids": sorted(links.get(co.pk, [])),
            "created_at": _dt(co.created_at),
            "paid_at": _dt(co.paid_at),
            "ledger_entry_id": co.ledger_entry_id,
        }
        for co in orders
    ]


def order_detail_repr(order: PackageOrder) -> dict[str, Any]:
    data = order_repr(order)
    instances = list(order.instances.select_related("subscription").prefetch_related("subscription__lines"))
    data["instances"] = [
        {
            "prod_inst_id_ext": i.prod_inst_id_ext,
            "prod_id": i.prod_id,
            "prod_name": i.prod_name,
            "plan_id": i.plan_id,
            "attrs": i.attrs,
            "is_auto_renew": i.is_auto_renew,
            "status": i.status,
            "subscription": {
                "id": i.subscription.pk,
                "status": i.subscription.status,
                "anchor": _dt(i.subscription.anchor),
                "auto_renew": i.subscription.auto_renew,
                "components": [
                    {
                        "component_id": ln.component_id,
                        "billing_mode": ln.billing_mode,
                        "cycle": ln.cycle,
                        "attrs": ln.attrs,
                        "price": money4(ln.price),
                        "status": ln.status,
                        "periods_billed": ln.periods_billed,
                        "paid_until": _dt(ln.paid_until),
                        "next_run_at": _dt(ln.next_run_at),
                    }
                    for ln in i.subscription.lines.all()
                ],
            },
        }
        for i in instances
    ]
    records = list(
        UsageRecord.objects.filter(source=UsageSource.PACKAGE, order_ref=order.order_id).order_by(
            "period_start", "id"
        )
    )
    data["bills"] = bills_repr(records)
    data["consume_orders"] = consume_orders_repr(
        list(order.consume_orders.select_related("order", "instance").order_by("id"))
    )
    return data


def operation_repr(result: svc.OperationResult) -> dict[str, Any]:
    return {
        "order_id": result.order.order_id,
        "order_status": result.order.status,
        "cost": money4(result.cost),
        "amount_payable": money4(result.amount_payable),
        "consume_order_id": result.consume_order.pk if result.consume_order else None,
        "ledger_entry_id": (
            result.consume_order.ledger_entry_id if result.consume_order else result.order.ledger_entry_id
        ),
    }


# --- orders ----------------------------------------------------------------------------------------


class PackageOrdersView(PackageApiView):
    replica_reads = True  # GET: a list or report, from the replica when one is configured (config/replica.py)

    preview_handlers = frozenset({"post"})

    @extend_schema(
        summary="List package orders",
        parameters=[NS_PARAM, *PAGE_PARAMS, OpenApiParameter("status", str, required=False)],
        responses=PackageOrderOutSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = _visible(request, PackageOrder.objects.select_related("account"), "account_id").order_by("-id")
        status = request.query_params.get("status")
        if status:
            if status not in ("unpaid", "paid", "canceled"):
                raise_invalid({"status": ["must be unpaid, paid or canceled"]})
            qs = qs.filter(status=status)
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(qs, request, self)
        return paginator.get_paginated_response([order_repr(o) for o in page])

    @extend_schema(
        summary="Create a package order (NBCreatePrdOrder); drytry=1: only its cost, nothing written",
        request=PackageOrderCreateSerializer,
        responses={201: OperationOutSerializer, 200: PreviewOutSerializer},
        parameters=[DRYTRY_PARAM, IDEMPOTENCY_PARAM],
    )
    def post(self, request: Request) -> Response:
        if drytry_requested(request):
            account, _, products = self._input(request)
            quote = previews.package_order_create_preview(products=products, account_id=account.pk)
            return Response(create_preview_repr(quote))
        return self._create(request)

    def _input(self, request: Request) -> tuple[Any, dict[str, Any], list[svc.ProductSpec]]:
        s = PackageOrderCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        account = resolve_account(request.user, v["order_user_id"])
        products = [
            svc.ProductSpec(
                prod_id=p["prod_id"],
                prod_name=p["prod_name"],
                plan_id=p["plan"]["plan_id"],
                attrs={a["attr_id"]: jsonable(a["attr_value"]) for a in p["plan"]["attrs_id_value"]},
                instances=[
                    svc.InstanceSpec(prod_inst_id_ext=i["id"], is_auto_renew=bool(i["is_auto_renew"]))
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
        )
        return Response(operation_repr(result), status=201)


class PackageOrderDetailView(PackageApiView):
    @extend_schema(
        summary="A package order with instances, components, bills and consume orders",
        responses=PackageOrderDetailOutSerializer,
    )
    def get(self, request: Request, order_id: str) -> Response:
        return Response(order_detail_repr(_order(request, order_id)))


class PackageOrderCancelView(PackageApiView):
    @extend_schema(
        summary="Cancel an unpaid package order (NBCancelPrdOrder)",
        request=None,
        responses=PackageOrderOutSerializer,
    )
    def post(self, request: Request, order_id: str) -> Response:
        order = svc.package_order_cancel(order_pk=_order(request, order_id).pk, actor=request.user)
        return Response(order_repr(PackageOrder.objects.select_related("account").get(pk=order.pk)))


class PackageOrderChargeView(PackageApiView):
    @extend_schema(
        summary="Pay every unpaid bill of the order in one charge (NBChargePrdOrder)",
        request=None,
        responses=OperationOutSerializer,
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request, order_id: str) -> Response:
        result = svc.package_order_charge(order_pk=_order(request, order_id).pk, actor=request.user)
        return Response(operation_repr(result))


# --- instances -------------------------------------------------------------------------------------


def instance_op_repr(inst: ProductInstance) -> dict[str, str]:
    """The answer of an instance operation (InstanceOpOutSerializer's common part)."""
    return {"prod_inst_id_ext": inst.prod_inst_id_ext, "order_id": inst.order.order_id, "status": inst.status}


class InstanceRenewView(PackageApiView):
    preview_handlers = frozenset({"post"})

    @extend_schema(
        summary="Renew the prepaid components of an instance (NBRenewProdInstance); drytry=1: the price",
        request=RenewSerializer,
        responses={200: OPERATION_OR_PREVIEW},
        parameters=[DRYTRY_PARAM, IDEMPOTENCY_PARAM],
    )
    def post(self, request: Request, prod_inst_id_ext: str) -> Response:
        if not drytry_requested(request):
            return self._renew(request, prod_inst_id_ext)
        s = RenewSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        inst = _instance(request, prod_inst_id_ext)
        state, quote = previews.instance_renew_preview(
            prod_inst_id_ext=inst.prod_inst_id_ext,
            account_id=inst.account_id,
            duration=s.validated_data["duration"],
        )
        return Response(renew_preview_repr(state, quote))

    @idempotent
    def _renew(self, request: Request, prod_inst_id_ext: str) -> Response:
        s = RenewSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        inst = _instance(request, prod_inst_id_ext)
        result = instance_renew(
            prod_inst_id_ext=inst.prod_inst_id_ext,
            account_id=inst.account_id,
            duration=s.validated_data["duration"],
            charge_channel=s.validated_data["charge_channel"],
            actor=request.user,
        )
        data = operation_repr(result)
        data["prod_inst_id_ext"] = inst.prod_inst_id_ext
        return Response(data)


class InstanceStopView(PackageApiView):
    @extend_schema(
        summary="Stop an instance with final settlement (NBStopProdInstance)",
        request=None,
        responses=InstanceOpOutSerializer,
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request, prod_inst_id_ext: str) -> Response:
        inst = _instance(request, prod_inst_id_ext)
        result = instance_stop(
            prod_inst_id_ext=inst.prod_inst_id_ext, account_id=inst.account_id, actor=request.user
        )
        inst.refresh_from_db()
        return Response(
            {
                **instance_op_repr(inst),
                "refunded": money4(result.extra.get("refunded", 0)),
                "postpaid_billed": money4(result.extra.get("postpaid_billed", 0)),
            }
        )


class InstancePauseView(PackageApiView):
    @extend_schema(
        summary="Pause an instance (not billed while paused)", request=None, responses=InstanceOpOutSerializer
    )
    def post(self, request: Request, prod_inst_id_ext: str) -> Response:
        inst = _instance(request, prod_inst_id_ext)
        inst = instance_pause(
            prod_inst_id_ext=inst.prod_inst_id_ext, account_id=inst.account_id, actor=request.user
        )
        return Response(instance_op_repr(inst))


class InstanceResumeView(PackageApiView):
    @extend_schema(
        summary="Resume a paused or suspended instance",
        request=None,
        responses=InstanceOpOutSerializer,
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request, prod_inst_id_ext: str) -> Response:
        inst = _instance(request, prod_inst_id_ext)
        inst = instance_resume(
            prod_inst_id_ext=inst.prod_inst_id_ext, account_id=inst.account_id, actor=request.user
        )
        return Response(instance_op_repr(inst))


class InstanceChangeConfigView(PackageApiView):
    preview_handlers = frozenset({"post"})

    @extend_schema(
        summary="Change attribute values of an instance (NBChangeProdInstanceConfig); drytry=1: the price",
        request=ChangeConfigSerializer,
        responses={200: OPERATION_OR_PREVIEW},
        parameters=[DRYTRY_PARAM, IDEMPOTENCY_PARAM],
    )
    def post(self, request: Request, prod_inst_id_ext: str) -> Response:
        if not drytry_requested(request):
            return self._change(request, prod_inst_id_ext)
        inst, s, changes = self._input(request, prod_inst_id_ext)
        state, quote = previews.instance_change_config_preview(
            prod_inst_id_ext=inst.prod_inst_id_ext,
            account_id=inst.account_id,
            plan_id=s.validated_data["plan_id"],
            changes=changes,
        )
        return Response(change_preview_repr(state, quote))

    def _input(
        self, request: Request, prod_inst_id_ext: str
    ) -> tuple[ProductInstance, ChangeConfigSerializer, list[svc.ComponentChange]]:
        s = ChangeConfigSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        inst = _instance(request, prod_inst_id_ext)
        changes = [
            svc.ComponentChange(
                component_id=c["component_id"],
                attrs={a["attr_id"]: jsonable(a["attr_value"]) for a in c["attrs_id_value"]},
            )
            for c in s.validated_data["component_infos"]
        ]
        return inst, s, changes

    @idempotent
    def _change(self, request: Request, prod_inst_id_ext: str) -> Response:
        inst, s, changes = self._input(request, prod_inst_id_ext)
        result = instance_change_config(
            prod_inst_id_ext=inst.prod_inst_id_ext,
            account_id=inst.account_id,
            plan_id=s.validated_data["plan_id"],
            changes=changes,
            actor=request.user,
        )
        return Response(operation_repr(result))


# --- bills, consume orders, meter events -----------------------------------------------------------


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
        qs = _visible(request, UsageRecord.objects.filter(source=UsageSource.PACKAGE), "account_id")
        p = request.query_params
        if p.get("order_id"):
            qs = qs.filter(order_ref=p["order_id"])
        if p.get("instance"):
            inst = _instance(request, p["instance"])
            qs = qs.filter(
                line_id__in=SubscriptionLine.objects.filter(subscription_id=inst.subscription_id).values("pk")
            )
        if p.get("status"):
            if p["status"] not in UsageStatus.values:
                raise_invalid({"status": [f"must be one of {', '.join(UsageStatus.values)}"]})
            qs = qs.filter(status=p["status"])
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(qs.order_by("-period_start", "-id"), request, self)
        return paginator.get_paginated_response(bills_repr(page))


class ConsumeOrdersView(PackageApiView):
    replica_reads = True  # GET: a list or report, from the replica when one is configured (config/replica.py)

    @extend_schema(
        summary="Consume orders (merged payments: new, renew, change)",
        parameters=[NS_PARAM, *PAGE_PARAMS, OpenApiParameter("order_id", str, required=False)],
        responses=ConsumeOrderOutSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = _visible(request, ConsumeOrder.objects.select_related("order", "instance"), "order__account_id")
        if request.query_params.get("order_id"):
            qs = qs.filter(order__order_id=request.query_params["order_id"])
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(qs.order_by("-id"), request, self)
        return paginator.get_paginated_response(consume_orders_repr(page))


class MeterEventsView(PackageApiView):
    @extend_schema(
        summary="Report metered quantities (up to 1000 events a call)",
        request=MeterEventsSerializer,
        responses=MeterResultOutSerializer,
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        events = data.get("events")
        if not isinstance(events, list) or not events:
            raise_invalid({"events": ["required: a non-empty list"]})
        if len(events) > MAX_EVENTS:
            raise_invalid({"events": [f"at most {MAX_EVENTS} events a call"]})
        account = resolve_account(request.user, namespace_from_request(request))
        result = meter_events_ingest(account_id=account.pk, events=events)
        return Response(
            {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": result.rejected}
        )
