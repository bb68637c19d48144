"""``/api/v1/billing/statements`` and ``/api/v1/billing/credit-notes``: lists, JSON, PDF; a draft of
the running month. Thin: selectors read, ``render.document_pdf`` returns the stored bytes."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing.api.views import NAMESPACE_PARAM, BillingView
from billing.statements.api.serializers import (
    CreditNoteSerializer,
    DocumentQuerySerializer,
    StatementSerializer,
    StatementSummarySerializer,
)
from billing.statements.models import DocumentPdf
from billing.statements.periods import period_of
from billing.statements.render import document_pdf
from billing.statements.selectors import credit_note_get, credit_notes_of, statement_get, statements_of
from billing.statements.services import statement_draft
from billing.tenancy import resolve_account
from config import clock
from config.api.pagination import PageSizePagination

PERIOD_PARAM = OpenApiParameter("period", str, required=False, description="YYYY-MM")
PAGE_PARAMS = [OpenApiParameter("page", int, required=False), OpenApiParameter("size", int, required=False)]


def _query(request: Request) -> dict[str, Any]:
    ser = DocumentQuerySerializer(data=request.query_params)
    ser.is_valid(raise_exception=True)
    return dict(ser.validated_data)


def _pdf_response(number: str) -> HttpResponse:
    doc = document_pdf(number)
    response = HttpResponse(bytes(doc.content), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{number}.pdf"'
    response["ETag"] = f'"{doc.sha256}"'
    response["X-Content-SHA256"] = doc.sha256
    return response


def _sha256(numbers: list[str]) -> dict[str, str]:
    return dict(DocumentPdf.objects.filter(number__in=numbers).values_list("number", "sha256"))


class StatementListView(BillingView):
    """Issued statements of one wallet (``namespace``, default your own), newest period first."""

    replica_reads = True  # a list: the replica when one is configured (config/replica.py)

    @extend_schema(
        parameters=[NAMESPACE_PARAM, PERIOD_PARAM, *PAGE_PARAMS],
        responses=StatementSummarySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        query = _query(request)
        account = resolve_account(request.user, query.get("namespace") or None, write=False)
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(
            statements_of(account=account, period=query.get("period")), request
        )
        context = {"sha256": _sha256([s.number for s in page])}
        return paginator.get_paginated_response(
            StatementSummarySerializer(page, many=True, context=context).data
        )


class StatementDraftView(BillingView):
    """What the running month's statement would say now (no number; nothing is written)."""

    @extend_schema(parameters=[NAMESPACE_PARAM, PERIOD_PARAM], responses=StatementSerializer)
    def get(self, request: Request) -> Response:
        query = _query(request)
        account = resolve_account(request.user, query.get("namespace") or None, write=False)
        data = statement_draft(account=account, period=query.get("period") or period_of(clock.now()))
        lines = [dict(vars(ln), position=i) for i, ln in enumerate(data.lines, start=1)]
        body = dict(vars(data), number=None, issued_at=None, **_totals(data))
        body.update(period=data.period.month, period_start=data.period.start, period_end=data.period.end)
        return Response(StatementSerializer(body, context={"lines": lines}).data)


def _totals(data: Any) -> dict[str, Any]:
    return {
        "total_recharges": data.total("recharge"),
        "total_charges": data.total("charge"),
        "total_refunds": data.total("refund"),
        "total_adjustments": data.total("adjustment"),
        "closing_balance": data.closing_balance,
        "entry_count": data.entry_count,
    }


class StatementDetailView(BillingView):
    @extend_schema(responses=StatementSerializer)
    def get(self, request: Request, number: str) -> Response:
        statement = statement_get(user=request.user, number=number)
        return Response(StatementSerializer(statement, context={"sha256": _sha256([number])}).data)


class StatementPdfView(BillingView):
    """The stored PDF: the same bytes on every download (``ETag``/``X-Content-SHA256``: their SHA-256)."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(self, request: Request, number: str) -> HttpResponse:
        statement_get(user=request.user, number=number)
        return _pdf_response(number)


class CreditNoteListView(BillingView):
    """Credit notes of one wallet; ``period`` selects those correcting that month's statement."""

    replica_reads = True  # a list: the replica when one is configured (config/replica.py)

    @extend_schema(
        parameters=[NAMESPACE_PARAM, PERIOD_PARAM, *PAGE_PARAMS], responses=CreditNoteSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        query = _query(request)
        account = resolve_account(request.user, query.get("namespace") or None, write=False)
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(
            credit_notes_of(account=account, period=query.get("period")), request
        )
        return paginator.get_paginated_response(CreditNoteSerializer(page, many=True).data)


class CreditNoteDetailView(BillingView):
    @extend_schema(responses=CreditNoteSerializer)
    def get(self, request: Request, number: str) -> Response:
        return Response(CreditNoteSerializer(credit_note_get(user=request.user, number=number)).data)


class CreditNotePdfView(BillingView):
    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(self, request: Request, number: str) -> HttpResponse:
        credit_note_get(user=request.user, number=number)
        return _pdf_response(number)
