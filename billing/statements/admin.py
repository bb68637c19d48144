"""Admin of statements and credit notes: read-only for everyone (they are issued documents), with
their lines, HTML view and PDF download; "issue now" for one account and a closed month, with a
reason, for holders of ``billing.issue_statement`` (the Finance group); a draft preview of any month.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from billing.models import Account
from billing.statements.models import CreditNote, DocumentPdf, Statement, StatementBatch, StatementLine
from billing.statements.periods import parse_period, period_of
from billing.statements.render import credit_note_html, document_pdf, draft_html, statement_html
from billing.statements.services import statement_draft, statement_issue_now
from config import clock
from config.admin_tools import ReadOnlyAdmin
from config.display import MoneyDetailMixin, money_column
from config.exceptions import DomainError


class PeriodFilter(admin.SimpleListFilter):
    title = "period"
    parameter_name = "period"
    field = "period"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        months = (
            model_admin.model.objects.order_by(f"-{self.field}").values_list(self.field, flat=True).distinct()
        )
        return [(f"{m:%Y-%m}", f"{m:%Y-%m}") for m in months[:36]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        try:
            return queryset.filter(**{self.field: parse_period(value).month})
        except DomainError:
            return queryset.none()


class CreditNotePeriodFilter(PeriodFilter):
    title = "period corrected"
    field = "statement__period"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        months = (
            Statement.objects.filter(corrections__isnull=False).values_list("period", flat=True).distinct()
        )
        return [(f"{m:%Y-%m}", f"{m:%Y-%m}") for m in sorted(set(months), reverse=True)[:36]]


class StatusFilter(admin.SimpleListFilter):
    """Issued documents do not change state; what finance asks is "corrected?" and "PDF ready?"."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("issued", "issued, no credit note"),
            ("corrected", "corrected by a credit note"),
            ("pdf_pending", "PDF not rendered yet"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        corrected = Exists(CreditNote.objects.filter(statement_id=OuterRef("pk")))
        if self.value() == "issued":
            return queryset.filter(~corrected)
        if self.value() == "corrected":
            return queryset.filter(corrected)
        if self.value() == "pdf_pending":
            return queryset.filter(~Exists(DocumentPdf.objects.filter(number=OuterRef("number"))))
        return queryset


class StatementLineInline(MoneyDetailMixin, admin.TabularInline):
    model = StatementLine
    extra = 0
    can_delete = False
    fields = (
        "position",
        "kind",
        "description",
        "entry_count",
        "dates",
        "quantity",
        "unit_price",
        "amount",
        "detail",
    )
    readonly_fields = fields
    ordering = ["position"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="dates")
    def dates(self, obj: StatementLine) -> str:
        first, last = (clock.local(t).strftime("%m-%d") for t in (obj.first_at, obj.last_at))
        return first if first == last else f"{first} – {last}"

    @admin.display(description="usage records")
    def detail(self, obj: StatementLine) -> str:
        parts = [
            f"{' '.join(str(p) for p in (d.get('instance'), d.get('component'), d.get('usage_kind')) if p)}: "
            f"{(d.get('period_start') or '')[:10]} → {(d.get('period_end') or '')[:10]}, "
            f"{d.get('records')} record(s), {d.get('amount')}"
            for d in obj.details
        ]
        return "; ".join(parts) or "-"


class IssueNowForm(forms.Form):
    namespace = forms.CharField(max_length=50)
    period = forms.CharField(max_length=7, help_text="YYYY-MM, a month that is over (TALLY_TIME_ZONE)")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}), help_text="Mandatory.")

    def clean_namespace(self) -> Account:
        account = Account.objects.filter(namespace=self.cleaned_data["namespace"]).first()
        if account is None:
            raise forms.ValidationError("no such namespace")
        return account

    def clean_period(self) -> Any:
        try:
            return parse_period(self.cleaned_data["period"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("a reason is required")
        return reason


def _pdf_download(number: str) -> HttpResponse:
    doc = document_pdf(number)
    response = HttpResponse(bytes(doc.content), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{number}.pdf"'
    response["X-Content-SHA256"] = doc.sha256
    return response


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    change_list_template = "billing/admin/statement_change_list.html"
    list_display = [
        "number", "namespace", "period_label", money_column("opening_balance", "opening balance"),
        money_column("closing_balance", "closing balance"), "entry_count", "corrections_count", "issued_at",
        "documents",
    ]  # fmt: skip
    list_filter = [PeriodFilter, StatusFilter]
    search_fields = ["number", "namespace"]
    date_hierarchy = "issued_at"
    inlines = [StatementLineInline]
    fields = (
        "number", "namespace", "currency", "period_label", "period_start", "period_end", "opening_balance",
        "total_recharges", "total_charges", "total_refunds", "total_adjustments", "closing_balance",
        "entry_count", "free_quota_table", "credit_notes_listed", "corrections_list", "issued_at",
        "issued_by", "issue_reason", "documents", "pdf_sha256",
    )  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Statement]:
        from django.db.models import Count

        return super().get_queryset(request).annotate(n_corrections=Count("corrections"))

    @admin.display(description="period", ordering="period")
    def period_label(self, obj: Statement) -> str:
        return f"{obj.period:%Y-%m}"

    @admin.display(description="credit notes")
    def corrections_count(self, obj: Statement) -> int:
        return getattr(obj, "n_corrections", 0)

    @admin.display(description="documents")
    def documents(self, obj: Statement) -> str:
        return format_html(
            '<a href="{}" class="tally-statement-html" target="_blank">HTML</a> · '
            '<a href="{}" class="tally-statement-pdf">Download PDF</a>',
            reverse("admin:billing_statement_html", args=[obj.pk]),
            reverse("admin:billing_statement_pdf", args=[obj.pk]),
        )

    @admin.display(description="PDF SHA-256")
    def pdf_sha256(self, obj: Statement) -> str:
        return (
            DocumentPdf.objects.filter(number=obj.number).values_list("sha256", flat=True).first()
            or "not yet"
        )

    @admin.display(description="free quota used")
    def free_quota_table(self, obj: Statement) -> str:
        rows = [
            f"{q['service']}: {q['used']}/{q['total']} free, {q['paid_calls']} paid" for q in obj.free_quota
        ]
        return "; ".join(rows) or "-"

    @admin.display(description="credit notes issued in the period")
    def credit_notes_listed(self, obj: Statement) -> str:
        return (
            ", ".join(f"{c['number']} ({c['amount']}, corrects {c['statement']})" for c in obj.credit_notes)
            or "-"
        )

    @admin.display(description="corrected by")
    def corrections_list(self, obj: Statement) -> str:
        return ", ".join(obj.corrections.order_by("sequence").values_list("number", flat=True)) or "-"

    def has_issue_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.issue_statement"))

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("issue/", wrap(self.issue_view), name="billing_statement_issue"),
            path("draft/", wrap(self.draft_view), name="billing_statement_draft"),
            path("<int:pk>/pdf/", wrap(self.pdf_view), name="billing_statement_pdf"),
            path("<int:pk>/html/", wrap(self.html_view), name="billing_statement_html"),
            *super().get_urls(),
        ]

    def _get(self, request: HttpRequest, pk: int) -> Statement:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Statement, pk=pk)

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _pdf_download(self._get(request, pk).number)

    def html_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return HttpResponse(statement_html(self._get(request, pk)))

    def draft_view(self, request: HttpRequest) -> HttpResponse:
        """The statement a namespace would get for a month (default: the running one), not issued."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        account = get_object_or_404(Account, namespace=request.GET.get("namespace", ""))
        try:
            period = (
                parse_period(request.GET["period"]) if request.GET.get("period") else period_of(clock.now())
            )
        except DomainError as exc:
            return HttpResponse(exc.message, status=400, content_type="text/plain")
        return HttpResponse(draft_html(statement_draft(account=account, period=period)))

    def issue_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_issue_permission(request):
            raise PermissionDenied
        form = IssueNowForm(request.POST or None, initial={"period": f"{period_of(clock.now()).previous()}"})
        if request.method == "POST" and form.is_valid():
            account, period = form.cleaned_data["namespace"], form.cleaned_data["period"]
            try:
                result = statement_issue_now(
                    account=account, period=period, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                if result.issued:
                    statement = result.issued[0]
                    self.log_addition(
                        request, statement, f"issued now (reason: {form.cleaned_data['reason']})"
                    )
                    messages.success(request, f"Issued {statement.number} for {account.namespace}, {period}.")
                    return HttpResponseRedirect(
                        reverse("admin:billing_statement_change", args=[statement.pk])
                    )
                if result.inconsistent:
                    form.add_error(
                        None, "not issued: the ledger of this account is inconsistent (see the log)"
                    )
                else:
                    existing = Statement.objects.filter(account=account, period=period.month).first()
                    if existing is not None:
                        messages.warning(
                            request, f"{account.namespace}, {period} is already issued: {existing.number}."
                        )
                        return HttpResponseRedirect(
                            reverse("admin:billing_statement_change", args=[existing.pk])
                        )
                    form.add_error(None, f"{account.namespace} has nothing to state for {period}")
        context = {
            **self.admin_site.each_context(request),
            "title": "Issue a statement now",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "billing/admin/issue_statement.html", context)


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = [
        "number", "namespace", "statement", money_column("amount"), "reason", "actor", "issued_at", "pdf",
    ]  # fmt: skip
    list_filter = [CreditNotePeriodFilter]
    search_fields = ["number", "namespace", "statement__number", "reason"]
    list_select_related = ["statement", "actor"]
    fields = (
        "number", "namespace", "currency", "statement", "corrected_lines", "amount", "reason", "actor",
        "ledger_entry", "issued_at", "pdf",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="corrected lines")
    def corrected_lines(self, obj: CreditNote) -> str:
        return ", ".join(
            f"#{ln.position} {ln.description} ({ln.amount})" for ln in obj.lines.order_by("position")
        ) or ("the statement as a whole")

    @admin.display(description="PDF")
    def pdf(self, obj: CreditNote) -> str:
        return format_html(
            '<a href="{}" class="tally-credit-note-pdf">Download PDF</a>',
            reverse("admin:billing_creditnote_pdf", args=[obj.pk]),
        )

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/pdf/", wrap(self.pdf_view), name="billing_creditnote_pdf"),
            path("<int:pk>/html/", wrap(self.html_view), name="billing_creditnote_html"),
            *super().get_urls(),
        ]

    def _get(self, request: HttpRequest, pk: int) -> CreditNote:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(CreditNote, pk=pk)

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _pdf_download(self._get(request, pk).number)

    def html_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return HttpResponse(credit_note_html(self._get(request, pk)))


@admin.register(StatementBatch)
class StatementBatchAdmin(ReadOnlyAdmin):
    list_display = ["period", "first_account_id", "last_account_id", "state", "issued", "finished_at"]
    list_filter = ["state", "period"]
