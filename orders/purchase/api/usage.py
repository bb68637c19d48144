"""``/usageapi/v1`` reads of the consumption history (docs/purchase-orders.md): usages,
speed and reports, thin views over ``usage.selectors`` and ``orders.purchase.speed``."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from billing.tenancy import may_view_any_account, namespace_from_request, resolve_account
from config.api.pagination import AFTER_PARAM, after_param, parse_page_params
from config.api.validation import raise_invalid
from config.money import money2
from orders.purchase.api.serializers import (
    ReportSerializer,
    SpeedSerializer,
    UsagePageSerializer,
    UsageRecordSerializer,
)
from orders.purchase.api.views import NS_PARAM, UsageApiView, order_lookup
from orders.purchase.speed import account_speed
from usage.lists import usage_record_page
from usage.selectors import (
    GROUP_BY,
    local_days,
    money_row,
    parse_time,
    report_csv,
    report_range,
    report_totals,
    time_range,
    usage_report,
)

TIME_PAIRS = (("starttime", "endtime"), ("from", "to"))
USER_PARAM = OpenApiParameter(
    "user", str, required=False, description="alias of `namespace` (the origin's name)"
)
ORDER_PARAM = OpenApiParameter(
    "order",
    str,
    required=False,
    description="order id (int) or order_id; answers for that order's namespace (the origin: order wins)",
)


def origin_namespace(request: Request, errors: dict[str, list[str]]) -> str | None:
    """``namespace``, or the origin's ``user`` for it; both naming different ones: 3307."""
    ns, user = request.query_params.get("namespace"), request.query_params.get("user")
    if ns and user and ns != user:
        errors["user"] = ["is an alias of namespace: give one of them, or the same value"]
    return ns or user or None


class UsagesView(UsageApiView):
    replica_reads = True  # GET: a list or report, from the replica when one is configured (config/replica.py)

    @extend_schema(
        operation_id="usageapi_usages_list",
        summary="Consumption history, newest first (by `time`), paged in the database",
        parameters=[
            NS_PARAM,
            USER_PARAM,
            ORDER_PARAM,
            OpenApiParameter("region", str, required=False),
            OpenApiParameter(
                "starttime",
                OpenApiTypes.DATETIME,
                required=False,
                description="records whose `time` is >= this (ISO date or date-time; naive = local)",
            ),
            OpenApiParameter("endtime", OpenApiTypes.DATETIME, required=False, description="`time` < this"),
            OpenApiParameter("from", OpenApiTypes.DATETIME, required=False, description="= starttime"),
            OpenApiParameter("to", OpenApiTypes.DATETIME, required=False, description="= endtime"),
            AFTER_PARAM,
        ],
        responses=UsagePageSerializer,
    )
    def get(self, request: Request) -> Response:
        errors: dict[str, list[str]] = {}
        start, end = time_range(request.query_params, errors, TIME_PAIRS)
        ns = origin_namespace(request, errors)
        after, use_after = after_param(request, errors)
        if errors:
            raise_invalid(errors)
        refs = None
        ident = request.query_params.get("order")
        if ident:
            order = order_lookup(request, ident, namespace=ns)
            account_id, refs = order.account_id, [order.order_id]
        else:
            account_id = resolve_account(request.user, ns, write=False).pk
        page, size = parse_page_params(request)
        result = usage_record_page(
            account_id=account_id,
            order_refs=refs,
            region=request.query_params.get("region"),
            start=start,
            end=end,
            page=page,
            size=size,
            after=after,
            use_after=use_after,
        )
        if not use_after and page > max(1, -(-result.total // size)):
            raise_invalid({"page": [f"out of range: there are {max(1, -(-result.total // size))} page(s)"]})
        results = UsageRecordSerializer(result.rows, many=True).data
        return Response({"total": result.total, "results": results, "next": result.next})


class SpeedView(UsageApiView):
    @extend_schema(
        operation_id="usageapi_speed",
        summary="How fast an account (or one order) consumes money at a time: every running "
        "subscription (purchase orders and package instances) at the price charged for its period",
        parameters=[
            NS_PARAM,
            USER_PARAM,
            ORDER_PARAM,
            OpenApiParameter("time", OpenApiTypes.DATETIME, required=False, description="default now"),
        ],
        responses=SpeedSerializer,
    )
    def get(self, request: Request) -> Response:
        errors: dict[str, list[str]] = {}
        at = parse_time(request.query_params.get("time"), "time", errors)
        ns = origin_namespace(request, errors)
        if errors:
            raise_invalid(errors)
        at = at or timezone.now()
        ident = request.query_params.get("order")
        if ident:
            order = order_lookup(request, ident, namespace=ns)
            subs = [order.subscription_id] if order.subscription_id else []
            speed = account_speed(at=at, account_ids=[order.account_id], subscription_ids=subs)
        else:
            account = resolve_account(request.user, ns, write=False)
            speed = account_speed(at=at, account_ids=[account.pk])
        return Response(
            {
                "per_hour": money2(speed.per_hour),
                "per_day": money2(speed.per_day),
                "time": at,
                "orders": speed.orders,
            }
        )


class CSVRenderer(BaseRenderer):
    """Lets ``?format=csv`` through DRF's negotiation; the view writes the CSV itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return b"" if data is None else str(data).encode()


class ReportsView(UsageApiView):
    replica_reads = True  # GET: a list or report, from the replica when one is configured (config/replica.py)

    def get_renderers(self) -> list[BaseRenderer]:
        return [*super().get_renderers(), CSVRenderer()]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        """An unknown ``format`` is a 3307 from ``get`` (naming the field), not DRF's 404."""
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="usageapi_reports",
        summary="Money that moved per order or per account in a month or a [from, to) range "
        "(paid records and refunds, net of promotions, with gross, discount and corrections; "
        "arrears beside it). CSV: data rows only, totals in X-Report-* headers",
        parameters=[
            NS_PARAM,
            OpenApiParameter("period", str, required=False, description="YYYY-MM (local calendar month)"),
            OpenApiParameter("from", OpenApiTypes.DATETIME, required=False),
            OpenApiParameter("to", OpenApiTypes.DATETIME, required=False),
            OpenApiParameter("group_by", str, enum=list(GROUP_BY), required=False),
            OpenApiParameter("format", str, enum=["json", "csv"], required=False),
        ],
        responses={200: ReportSerializer, (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)},
    )
    def get(self, request: Request) -> Response | HttpResponse:
        params = request.query_params
        errors: dict[str, list[str]] = {}
        start, end = report_range(params.get("period"), params.get("from"), params.get("to"), errors)
        group_by = params.get("group_by") or "order"
        if group_by not in GROUP_BY:
            errors["group_by"] = ["one of order, account"]
        fmt = params.get("format") or "json"
        if fmt not in ("json", "csv"):
            errors["format"] = ["one of json, csv"]
        if errors:
            raise_invalid(errors)
        assert start is not None and end is not None
        ns = namespace_from_request(request)
        all_accounts = not ns and may_view_any_account(request.user)
        account_ids = None if all_accounts else [resolve_account(request.user, ns, write=False).pk]
        report = usage_report(start=start, end=end, group_by=group_by, account_ids=account_ids)
        if fmt == "csv":
            first, last = local_days(start, end)
            response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="usage-{first:%Y%m%d}-{last:%Y%m%d}.csv"'
            for name, value in report_totals(report).items():
                response[f"X-Report-{name.replace('_', '-').title()}"] = str(value)
            return response
        data = report.as_dict()
        data["rows"] = [money_row(r) for r in report.rows]
        for name in ("total", "gross", "discount", "corrections", "arrears"):
            data[name] = money2(data[name])
        return Response(data)
