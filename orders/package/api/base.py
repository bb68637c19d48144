"""What every ``/api/v1`` package view shares: the base view (error family ``package``, 34xx),
the schema's common parameters, and the tenancy lookups. Another tenant's order or instance is
404, never 403."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.views import APIView

from billing.acting import MoneyCallerMixin
from billing.tenancy import is_write, namespace_from_request, refuse_read_only_act, resolve_account, visible
from config.api.validation import raise_invalid
from orders.engine.drytry import PreviewGuardMixin
from orders.package.errors import PackageInstanceNotFound, PackageOrderNotFound
from orders.package.models import PackageOrder, ProductInstance

NS_PARAM = OpenApiParameter(
    "namespace", str, required=False, description="defaults to every account you may see"
)
IDEMPOTENCY_PARAM = OpenApiParameter(
    "Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False, description="<= 255 chars"
)
PAGE_PARAMS = [OpenApiParameter("page", int, required=False), OpenApiParameter("size", int, required=False)]


class PackageApiView(MoneyCallerMixin, PreviewGuardMixin, APIView):
    error_family = "package"


def visible_rows(request: Request, qs: QuerySet[Any], field: str) -> QuerySet[Any]:
    """``qs`` narrowed to the accounts the caller may see (``field`` names the account id), or to
    the one a GET's ``namespace`` names."""
    ns = namespace_from_request(request) if request.method == "GET" else None
    if ns:
        return qs.filter(**{field: resolve_account(request.user, ns, write=False).pk})
    return visible(qs, request.user, field=field, write=is_write(request))


def order_of(request: Request, order_id: str) -> PackageOrder:
    order = (
        visible_rows(request, PackageOrder.objects.select_related("account"), "account_id")
        .filter(order_id=order_id)
        .first()
    )
    if order is None:
        if is_write(request):
            refuse_read_only_act(request.user, PackageOrder.objects.filter(order_id=order_id).exists)
        raise PackageOrderNotFound(f"package order {order_id!r} not found")
    return order


def instance_of(request: Request, ext: str) -> ProductInstance:
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
