"""Admin for finance staff: wallets, the read-only ledger, recharges, quota, manual adjustments.

The ledger is append-only for everyone, superusers included: corrections are new entries made by
the "manual adjustment" form, which needs ``billing.adjust_balance`` and records the staff user.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from billing.models import Account, LedgerEntry, MonthlyQuota, QuotaUsage, RechargeEvent, RechargeOrder
from billing.recharges import recharge_review_resolve
from billing.services import account_adjust
from config.admin_actions import reason_action
from config.admin_tools import CsvExportMixin
from config.exceptions import DomainError, InsufficientFunds


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AdjustmentForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=20, decimal_places=4, help_text="signed: positive adds money, negative takes it away"
    )
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    corrects = forms.CharField(
        required=False,
        max_length=40,
        label="Correction of statement",
        help_text="optional: the issued statement (number, or number#line) this money corrects; "
        "a positive correction gets a credit note",
    )
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("must not be zero")
        return amount

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("a reason is required")
        return reason

    def correction_for(self, account: Account) -> tuple[str, str] | None:
        """The ledger subject of a correction of one of ``account``'s statements (or None); adds the
        form error and returns None when the statement or line does not fit."""
        from billing.statements.credit_notes import correction_subject
        from billing.statements.models import Statement

        raw = (self.cleaned_data.get("corrects") or "").strip()
        if not raw:
            return None
        number, _, line = raw.partition("#")
        statement = Statement.objects.filter(account=account, number=number.strip()).first()
        if statement is None:
            self.add_error("corrects", f"{account.namespace} has no statement {number.strip()}")
        elif line and (not line.isdigit() or not statement.lines.filter(position=int(line)).exists()):
            self.add_error("corrects", f"{statement.number} has no line {line}")
        elif self.cleaned_data.get("amount", 0) <= 0:
            self.add_error("amount", "a correction gives money back: it must be positive")
        else:
            return correction_subject(number=statement.number, position=int(line) if line else None)
        return None


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["namespace", "balance", "currency", "member_count", "created_at"]
    list_filter = ["currency", "created_at"]
    search_fields = ["namespace", "members__username"]
    readonly_fields = ["balance", "currency", "created_at", "updated_at", "adjust_link"]
    filter_horizontal = ["members"]
    fields = ["namespace", "currency", "balance", "adjust_link", "members", "created_at", "updated_at"]
    list_select_related: list[str] = []

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        return super().get_queryset(request).prefetch_related("members")

    @admin.display(description="members")
    def member_count(self, obj: Account) -> int:
        return len(obj.members.all())

    @admin.display(description="manual adjustment")
    def adjust_link(self, obj: Account) -> str:
        if not obj.pk:
            return "-"
        url = reverse("admin:billing_account_adjust", args=[obj.pk])
        return format_html('<a class="button" href="{}">Adjust balance…</a>', url)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # wallets carry a ledger; they are never deleted

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(self.readonly_fields)
        return [*fields, "namespace"] if obj is not None else fields  # a namespace is an identity

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        if not obj.currency:
            obj.currency = settings.TALLY_CURRENCY
        super().save_model(request, obj, form, change)

    def get_urls(self) -> list[Any]:
        custom = [
            path(
                "<int:account_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="billing_account_adjust",
            )
        ]
        return custom + super().get_urls()

    def adjust_view(self, request: HttpRequest, account_id: int) -> HttpResponse:
        """Signed amount + mandatory reason -> one ``adjustment`` entry with the staff user as actor.

        The hidden token is minted when the form is shown and is the idempotency key, so a double
        submit (or browser re-post) of the same form adjusts once.
        """
        if not request.user.has_perm("billing.adjust_balance"):
            raise PermissionDenied
        account = get_object_or_404(Account, pk=account_id)
        if request.method == "POST":
            form = AdjustmentForm(request.POST)
            subject = form.correction_for(account) if form.is_valid() else None
            if form.is_valid():
                try:
                    posting = account_adjust(
                        account_id=account.pk,
                        amount=form.cleaned_data["amount"],
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                        idempotency_key=f"admin-adjust:{form.cleaned_data['token']}",
                        subject=subject,
                    )
                except InsufficientFunds as exc:
                    form.add_error("amount", exc.message)
                except DomainError as exc:
                    form.add_error(None, exc.message)
                else:
                    if posting.replayed:
                        messages.warning(request, "This form was already submitted; nothing changed.")
                    else:
                        messages.success(
                            request,
                            f"Adjusted {account.namespace} by {posting.entry.amount}; "
                            f"balance {posting.balance}.",
                        )
                    return HttpResponseRedirect(reverse("admin:billing_account_change", args=[account.pk]))
        else:
            form = AdjustmentForm(initial={"token": uuid.uuid4().hex})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust balance of {account.namespace}",
            "account": account,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "billing/admin/adjust_balance.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(CsvExportMixin, ReadOnlyAdmin):
    list_display = [
        "id",
        "account",
        "kind",
        "amount",
        "balance_after",
        "subject_type",
        "subject_id",
        "actor",
        "created_at",
    ]
    list_filter = ["kind", "created_at"]
    search_fields = ["account__namespace", "subject_id", "idempotency_key", "memo"]
    list_select_related = ["account", "actor"]
    date_hierarchy = "created_at"


class RechargeEventInline(admin.TabularInline):
    model = RechargeEvent
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "note", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _review_approve(order: RechargeOrder, *, actor: Any, reason: str) -> str:
    done = recharge_review_resolve(recharge_pk=order.pk, approve=True, reason=reason, actor=actor)
    return f"credited {done.amount} {done.currency}"


def _review_reject(order: RechargeOrder, *, actor: Any, reason: str) -> str:
    recharge_review_resolve(recharge_pk=order.pk, approve=False, reason=reason, actor=actor)
    return "nothing credited"


# Resolving a review credits money by hand: the same authority as a balance adjustment.
review_approve = reason_action(
    name="approve_reviewed_recharges",
    label="Approve review: credit the order amount",
    service=_review_approve,
    permission="resolve",
    verb="approved",
)
review_reject = reason_action(
    name="reject_reviewed_recharges",
    label="Reject review: mark failed, credit nothing",
    service=_review_reject,
    permission="resolve",
    verb="rejected",
)


@admin.register(RechargeOrder)
class RechargeOrderAdmin(ReadOnlyAdmin):
    list_display = [
        "public_id", "account", "amount", "currency", "payment_method", "status", "review_reason",
        "created_at",
    ]  # fmt: skip
    list_filter = ["status", "payment_method", "created_at"]
    search_fields = ["public_id", "payment_id", "account__namespace"]
    list_select_related = ["account", "created_by", "ledger_entry"]
    inlines = [RechargeEventInline]
    actions = [review_approve, review_reject]

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.adjust_balance"))


@admin.register(MonthlyQuota)
class MonthlyQuotaAdmin(ReadOnlyAdmin):
    list_display = ["account", "service", "month", "total", "used"]
    list_filter = ["service", "month"]
    search_fields = ["account__namespace"]
    list_select_related = ["account", "service"]


@admin.register(QuotaUsage)
class QuotaUsageAdmin(ReadOnlyAdmin):
    list_display = [
        "request_id",
        "account",
        "service",
        "count",
        "free_count",
        "paid_count",
        "amount",
        "created_at",
    ]
    list_filter = ["service", "created_at"]
    search_fields = ["account__namespace", "request_id"]
    list_select_related = ["account", "service", "ledger_entry"]


# Statements and credit notes (billing/statements/admin.py) register with the same site.
from billing.statements import admin as statement_admin  # noqa: E402,F401
