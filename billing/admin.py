"""Admin for finance staff: wallets, the read-only ledger, recharges, quota, manual adjustments.

The ledger is append-only for everyone, superusers included: corrections are new entries made by
the "manual adjustment" form (``billing/account_admin.py``), which needs ``billing.adjust_balance``
and records the staff user. Money columns read ``CNY 1,683.70`` (``config.display``); every money list
exports its filtered rows as CSV.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from billing.models import (
    LedgerEntry,
    MonthlyQuota,
    QuotaUsage,
    RechargeEvent,
    RechargeOrder,
    RechargeStatus,
    Redemption,
)
from billing.recharges import recharge_review_resolve
from config.admin_actions import reason_action
from config.admin_lists import BigListAdminMixin
from config.admin_tools import CsvExportMixin, ReadOnlyAdmin
from config.display import UNIT_PRICE_PLACES, money_column, money_text


@admin.register(LedgerEntry)
class LedgerEntryAdmin(BigListAdminMixin, CsvExportMixin, ReadOnlyAdmin):
    list_display = [
        "id", "created_at", "account", "kind", money_column("amount"),
        money_column("balance_after", "balance after"), "subject", "memo_short", "actor",
    ]  # fmt: skip
    csv_fields = [
        "id", "created_at", "account", "kind", money_column("amount", places=4),
        money_column("balance_after", "balance after", places=4), "subject_type", "subject_id", "memo",
        "actor", "idempotency_key",
    ]  # fmt: skip
    list_filter = ["kind", "created_at", "subject_type"]
    # a million rows: exact identifiers only (config/admin_lists.py); the subject through its index
    exact_search_fields = ("account__namespace", "^subject_id")
    list_prefetch_related = ("account", "actor")
    date_hierarchy = "created_at"

    def search_condition(self, lookup: str, term: str) -> Q:
        if lookup != "^subject_id":
            return super().search_condition(lookup, term)
        # the index is (subject_type, subject_id): name every type (read from the index) to use it
        types = LedgerEntry.objects.order_by().values_list("subject_type", flat=True).distinct()
        return Q(subject_type__in=list(types), subject_id__istartswith=term)

    @admin.display(description="subject", ordering="subject_id")
    def subject(self, obj: LedgerEntry) -> SafeString:
        if not (obj.subject_type or obj.subject_id):
            return format_html("{}", "-")
        return format_html(
            '<span class="tally-wrap">{}<br><small>{}</small></span>',
            obj.subject_type.replace("_", " "),
            obj.subject_id,
        )

    @admin.display(description="memo")
    def memo_short(self, obj: LedgerEntry) -> SafeString:
        text = obj.memo or ""
        short = text if len(text) <= 48 else text[:47] + "…"
        return format_html('<span class="tally-wrap" title="{}">{}</span>', text, short or "-")


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
    return f"credited {money_text(done.amount, done.currency)}"


def _review_reject(order: RechargeOrder, *, actor: Any, reason: str) -> str:
    recharge_review_resolve(recharge_pk=order.pk, approve=False, reason=reason, actor=actor)
    return "nothing credited"


def _approve_label(orders: list[RechargeOrder]) -> str:
    currencies = {o.currency for o in orders}
    total = sum((o.amount for o in orders), Decimal(0))
    what = "the order" if len(orders) == 1 else f"{len(orders)} orders"
    amount = money_text(total, currencies.pop()) if len(currencies) == 1 else "their amounts"
    return f"Approve {what}: credit {amount}"


def _describe_recharge(order: RechargeOrder) -> str:
    return (
        f"{order.public_id} · {order.account} · {money_text(order.amount, order.currency)} · "
        f"{order.get_status_display()}: {order.review_reason or 'no reason recorded'}"
    )


def _reject_label(orders: list[RechargeOrder]) -> str:
    what = "the order" if len(orders) == 1 else f"{len(orders)} orders"
    return f"Reject {what}: mark failed, credit nothing"


# Resolving a review credits money by hand: the same authority as a balance adjustment.
review_approve = reason_action(
    name="approve_reviewed_recharges",
    label="Approve review: credit the order amount",
    service=_review_approve,
    permission="resolve",
    verb="approved",
    confirm=_approve_label,
    describe=_describe_recharge,
)
review_reject = reason_action(
    name="reject_reviewed_recharges",
    label="Reject review: mark failed, credit nothing",
    service=_review_reject,
    permission="resolve",
    verb="rejected",
    confirm=_reject_label,
    describe=_describe_recharge,
)


class ReviewFilter(admin.SimpleListFilter):
    title = "needs review"
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "waiting for review"), ("any", "has a review reason")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open":
            return queryset.filter(status=RechargeStatus.REVIEW)
        if self.value() == "any":
            return queryset.exclude(review_reason="")
        return queryset


@admin.register(RechargeOrder)
class RechargeOrderAdmin(CsvExportMixin, ReadOnlyAdmin):
    list_display = [
        "public_id", "created_at", "account", money_column("amount"), "payment_method", "status", "reason",
    ]  # fmt: skip
    csv_fields = [
        "public_id", "created_at", "account", money_column("amount", places=4), "currency", "payment_method",
        "payment_id", "status", "review_reason", "finished_at",
    ]  # fmt: skip
    list_filter = [ReviewFilter, "status", "payment_method", "currency", "created_at"]
    search_fields = ["public_id", "payment_id", "account__namespace", "review_reason"]
    list_select_related = ["account", "created_by", "ledger_entry"]
    date_hierarchy = "created_at"
    inlines = [RechargeEventInline]
    actions = [review_approve, review_reject]

    @admin.display(description="review reason", ordering="review_reason")
    def reason(self, obj: RechargeOrder) -> SafeString:
        if not obj.review_reason:
            return format_html("{}", "-")
        return format_html('<span class="tally-reason-cell">{}</span>', obj.review_reason)

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.adjust_balance"))


@admin.register(MonthlyQuota)
class MonthlyQuotaAdmin(CsvExportMixin, ReadOnlyAdmin):
    list_display = ["account", "service", "month_shown", "total", "used", "left"]
    list_filter = ["service", "month"]
    search_fields = ["account__namespace", "service__service"]
    list_select_related = ["account", "service"]
    date_hierarchy = "month"

    @admin.display(description="month", ordering="month")
    def month_shown(self, obj: MonthlyQuota) -> str:
        return f"{obj.month:%Y-%m}"

    @admin.display(description="left")
    def left(self, obj: MonthlyQuota) -> int:
        return max(obj.total - obj.used, 0)


@admin.register(QuotaUsage)
class QuotaUsageAdmin(CsvExportMixin, ReadOnlyAdmin):
    list_display = [
        "request_id", "created_at", "account", "service", "count", "free_count", "paid_count",
        money_column("unit_price", "unit price", places=UNIT_PRICE_PLACES), money_column("amount"),
    ]  # fmt: skip
    list_filter = ["service", "created_at"]
    search_fields = ["account__namespace", "request_id"]
    list_select_related = ["account", "service", "ledger_entry"]
    date_hierarchy = "created_at"


@admin.register(Redemption)
class RedemptionAdmin(CsvExportMixin, ReadOnlyAdmin):
    """Who redeemed which promotion on which order (docs/plans.md "Promotions"): rows written only
    by ``billing.promotions.promotion_redeem``; viewing needs ``billing.view_redemption``."""

    list_display = [
        "redeemed_at",
        "promotion",
        "account",
        "seq",
        "subject_type",
        "subject_id",
        "first_period",
    ]
    csv_fields = ["redeemed_at", "promotion", "account", "seq", "subject_type", "subject_id", "first_period"]
    list_filter = ["promotion__code", "subject_type", "redeemed_at"]
    search_fields = ["account__namespace", "promotion__code", "subject_id"]
    list_select_related = ["promotion", "account"]
    date_hierarchy = "redeemed_at"


# The account page and the manual adjustment (billing/account_admin.py), statements and credit notes
# (billing/statements/admin.py), alert thresholds and states (billing/alerts/admin.py) register with
# the same site.
from billing import account_admin  # noqa: E402,F401
from billing.alerts import admin as alert_admin  # noqa: E402,F401
from billing.statements import admin as statement_admin  # noqa: E402,F401
