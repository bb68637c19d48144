"""The account (wallet) page of the back office: its balance and last ledger entries inline, links to
everything of the account (ledger, orders of every family, recharges, usage records, quotas,
statements), and the manual balance adjustment (``billing.adjust_balance``; the staff user is the
ledger entry's actor and the admin history gets a ``LogEntry`` like every other action).
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
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from billing.models import Account, LedgerEntry
from billing.services import account_adjust
from config.admin_tools import ChangedFieldsSaveMixin, CsvExportMixin
from config.display import local_time, money_column, money_html, money_text
from config.exceptions import DomainError, InsufficientFunds
from config.money_forms import PlainMoneyField

RECENT_ENTRIES = 10
# (admin changelist, filter on the account, link text): what finance opens from an account.
ACCOUNT_LINKS: tuple[tuple[str, str, str], ...] = (
    ("billing_ledgerentry", "account__id__exact", "Ledger"),
    ("orders_purchaseorder", "account__id__exact", "Purchase orders"),
    ("orders_packageorder", "account__id__exact", "Package orders"),
    ("orders_vehicleorder", "account__id__exact", "Vehicle orders"),
    ("billing_rechargeorder", "account__id__exact", "Recharges"),
    ("usage_usagerecord", "account__id__exact", "Usage records"),
    ("billing_monthlyquota", "account__id__exact", "Monthly quotas"),
    ("billing_quotausage", "account__id__exact", "Quota usage"),
    ("billing_statement", "account__id__exact", "Statements"),
)


class AdjustmentForm(forms.Form):
    amount = PlainMoneyField(
        allow_negative=True, help_text="signed: positive adds money, negative takes it away (e.g. -12.50)"
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
class AccountAdmin(ChangedFieldsSaveMixin, CsvExportMixin, admin.ModelAdmin):
    list_display = ["namespace", money_column("balance"), "member_count", "created_at", "updated_at"]
    list_filter = ["currency", "created_at"]
    search_fields = ["namespace", "members__username"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "balance_shown", "currency", "created_at", "updated_at", "adjust_link", "links", "recent_entries",
    ]  # fmt: skip
    filter_horizontal = ["members"]
    fieldsets = [
        (None, {"fields": ["namespace", "balance_shown", "adjust_link", "links"]}),
        ("Last ledger entries", {"fields": ["recent_entries"]}),
        ("Account", {"fields": ["currency", "members", "created_at", "updated_at"]}),
    ]
    list_select_related: list[str] = []

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        return super().get_queryset(request).prefetch_related("members")

    @admin.display(description="members")
    def member_count(self, obj: Account) -> int:
        return len(obj.members.all())

    @admin.display(description="balance")
    def balance_shown(self, obj: Account) -> SafeString:
        return money_html(obj.balance, obj.currency) if obj.pk else format_html("{}", "-")

    @admin.display(description="manual adjustment")
    def adjust_link(self, obj: Account) -> str:
        if not obj.pk:
            return "-"
        url = reverse("admin:billing_account_adjust", args=[obj.pk])
        return format_html('<a class="button" href="{}">Adjust balance…</a>', url)

    @admin.display(description="find")
    def links(self, obj: Account) -> SafeString:
        if not obj.pk:
            return format_html("{}", "-")
        items = []
        for changelist, lookup, text in ACCOUNT_LINKS:
            try:
                url = reverse(f"admin:{changelist}_changelist")
            except NoReverseMatch:
                continue
            items.append((f"{url}?{lookup}={obj.pk}", text, changelist.replace("_", "-")))
        body = format_html_join("", '<li><a href="{}" class="tally-link-{}">{}</a></li>', (
            (url, css, text) for url, text, css in items
        ))  # fmt: skip
        return format_html('<ul class="tally-links" id="account-links">{}</ul>', body)

    @admin.display(description="last entries")
    def recent_entries(self, obj: Account) -> SafeString:
        if not obj.pk:
            return format_html("{}", "-")
        entries = list(
            LedgerEntry.objects.filter(account=obj)
            .select_related("actor")
            .order_by("-created_at", "-id")[:RECENT_ENTRIES]
        )
        if not entries:
            return format_html("<em>{}</em>", "no ledger entries yet")
        rows = format_html_join(
            "",
            '<tr><td class="nowrap">{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    local_time(e.created_at),
                    e.get_kind_display(),
                    money_html(e.amount, obj.currency),
                    money_html(e.balance_after, obj.currency),
                    e.memo or (f"{e.subject_type} {e.subject_id}".strip() or "-"),
                    e.actor or "-",
                )
                for e in entries
            ),
        )
        return format_html(
            '<table class="tally-table" id="recent-entries"><thead><tr><th>When</th><th>Kind</th>'
            '<th class="num">Amount</th><th class="num">Balance after</th><th>Memo</th><th>By</th></tr>'
            "</thead><tbody>{}</tbody></table>",
            rows,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # wallets carry a ledger; they are never deleted

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:  # adding: a namespace and members; balance only through the ledger
            return [(None, {"fields": ["namespace", "members"]})]
        return self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(self.readonly_fields)
        return [*fields, "namespace"] if obj is not None else fields  # a namespace is an identity

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        if not obj.currency:
            obj.currency = settings.TALLY_CURRENCY
        # on a change only what the form changed (ChangedFieldsSaveMixin; members are saved by
        # save_related): rewriting the namespace would also renew check-quota's names token
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
        """Signed amount + mandatory reason -> one ``adjustment`` entry with the staff user as actor,
        and a ``LogEntry`` on the account (its History page shows who adjusted by how much and why).

        The hidden token is minted when the form is shown and is the idempotency key, so a double
        submit (or browser re-post) of the same form adjusts once (and logs once).
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
                        self._log_adjustment(request, account, posting.entry, form)
                        messages.success(
                            request,
                            f"Adjusted {account.namespace} by "
                            f"{money_text(posting.entry.amount, account.currency)}; "
                            f"balance {money_text(posting.balance, account.currency)}.",
                        )
                    return HttpResponseRedirect(reverse("admin:billing_account_change", args=[account.pk]))
        else:
            form = AdjustmentForm(initial={"token": uuid.uuid4().hex})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust balance of {account.namespace}",
            "account": account,
            "balance": money_html(account.balance, account.currency),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "billing/admin/adjust_balance.html", context)

    def _log_adjustment(self, request: HttpRequest, account: Account, entry: LedgerEntry, form: Any) -> None:
        amount: Decimal = entry.amount
        corrects = (form.cleaned_data.get("corrects") or "").strip()
        message = (
            f"Adjusted balance by {money_text(amount, account.currency)} "
            f"(ledger entry {entry.pk}; reason: {entry.memo}{'; corrects ' + corrects if corrects else ''})"
        )
        self.log_change(request, account, message)
