"""Back office for package orders: read-only views of everything an order created.

State changes go through the API/services (they lock, check transitions and move money); the admin
shows the order with its instances, consume orders, events, and, rendered from the order page, the
subscription components (billing jobs included: hourly/postpaid lines with ``next_run_at``) and bills,
money as ``CNY 31.20`` and times in ``TALLY_TIME_ZONE``; the history reads as sentences.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from config.admin_tools import ChangedFieldsSaveMixin, CsvExportMixin
from config.display import UNIT_PRICE_PLACES, MoneyDetailMixin, local_time, money_column, money_html
from config.event_sentences import event_line, events_html
from orders.admin_actions import OrderActionPermissionsMixin
from orders.admin_tables import bills_table
from orders.engine.models import SubscriptionLine
from orders.package.admin_actions import package_cancel, package_renew
from orders.package.models import ConsumeOrder, PackageOrder, ProductInstance
from usage.models import UsageRecord, UsageSource


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ProductInstanceInline(ReadOnlyInline):
    model = ProductInstance
    fields = ["prod_inst_id_ext", "prod_id", "plan_id", "attrs", "is_auto_renew", "status", "subscription"]
    readonly_fields = [
        "prod_inst_id_ext",
        "prod_id",
        "plan_id",
        "attrs",
        "is_auto_renew",
        "status",
        "subscription",
    ]
    show_change_link = True


class ConsumeOrderInline(MoneyDetailMixin, ReadOnlyInline):
    model = ConsumeOrder
    fields = ["type", "status", "amount", "instance", "ledger_entry", "created_at", "paid_at"]
    readonly_fields = ["type", "status", "amount", "instance", "ledger_entry", "created_at", "paid_at"]


def _lines_table(lines: list[SubscriptionLine], currency: str) -> SafeString:
    if not lines:
        return format_html("<em>{}</em>", "none")
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td>{}</td>'
        '<td class="nowrap">{}</td><td class="nowrap">{}</td></tr>',
        (
            (
                getattr(
                    getattr(ln.subscription, "product_instance", None), "prod_inst_id_ext", ln.subscription_id
                ),
                ln.component_id,
                ln.billing_mode,
                ln.cycle,
                money_html(ln.price, currency, places=UNIT_PRICE_PLACES),
                ln.status,
                local_time(ln.paid_until),
                local_time(ln.next_run_at),
            )
            for ln in lines
        ),
    )
    return format_html(
        '<table class="tally-table"><thead><tr><th>instance</th><th>component</th><th>mode</th><th>cycle</th>'
        '<th class="num">unit price</th><th>status</th><th>paid until</th><th>next run (job)</th>'
        "</tr></thead>"
        "<tbody>{}</tbody></table>",
        rows,
    )


@admin.register(PackageOrder)
class PackageOrderAdmin(
    ChangedFieldsSaveMixin, MoneyDetailMixin, OrderActionPermissionsMixin, CsvExportMixin, admin.ModelAdmin
):
    list_display = [
        "order_id", "account", "app_id", "status", money_column("cost"),
        money_column("amount_payable", "payable"), "created_at", "paid_at",
    ]  # fmt: skip
    list_filter = ["status", "app_id", "created_at", "paid_at"]
    search_fields = ["order_id", "account__namespace", "app_id", "instances__prod_inst_id_ext"]
    actions = [package_cancel, package_renew]  # issue 8 reason actions
    list_select_related = ["account"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "order_id",
        "account",
        "app_id",
        "order_user_name",
        "description",
        "extra_info",
        "status",
        "cost",
        "amount_payable",
        "ledger_entry",
        "created_by",
        "created_at",
        "updated_at",
        "paid_at",
        "canceled_at",
        "promotion",  # set with its discount by the pricing at create: money, not an edit
        "discount",
        "components",
        "bills",
        "history",
    ]
    inlines = [ProductInstanceInline, ConsumeOrderInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="subscription components and billing jobs")
    def components(self, obj: PackageOrder) -> SafeString:
        lines = list(
            SubscriptionLine.objects.filter(subscription__product_instance__order=obj)
            .select_related("subscription__product_instance")
            .order_by("subscription_id", "id")
        )
        return _lines_table(lines, obj.account.currency)

    @admin.display(description="bills")
    def bills(self, obj: PackageOrder) -> SafeString:
        records = list(
            UsageRecord.objects.filter(source=UsageSource.PACKAGE, order_ref=obj.order_id).order_by(
                "period_start", "id"
            )
        )
        return bills_table(records, currency=obj.account.currency)

    @admin.display(description="events")
    def history(self, obj: PackageOrder) -> SafeString:
        currency = obj.account.currency
        lines = []
        for e in obj.events.select_related("actor", "instance").order_by("at", "id"):
            line = event_line(reason=e.reason, at=e.at, actor=e.actor, data=e.data, currency=currency,
                              from_label=e.from_status, to_label=e.to_status)  # fmt: skip
            if e.instance is not None:
                line.text = f"{e.instance.prod_inst_id_ext}: {line.text}"
            lines.append(line)
        return events_html(lines)


@admin.register(ProductInstance)
class ProductInstanceAdmin(ChangedFieldsSaveMixin, admin.ModelAdmin):
    list_display = [
        "prod_inst_id_ext",
        "order",
        "prod_id",
        "plan_id",
        "status",
        "is_auto_renew",
        "created_at",
    ]
    list_filter = ["status", "is_auto_renew", "prod_id"]
    search_fields = ["prod_inst_id_ext", "order__order_id"]
    list_select_related = ["order", "subscription"]
    readonly_fields = [
        "order",
        "prod_id",
        "prod_name",
        "plan_id",
        "attrs",
        "prod_inst_id_ext",
        "is_auto_renew",
        "status",
        "subscription",
        "created_at",
        "updated_at",
        "components",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="subscription components and billing jobs")
    def components(self, obj: ProductInstance) -> SafeString:
        return _lines_table(
            list(
                SubscriptionLine.objects.filter(subscription_id=obj.subscription_id).select_related(
                    "subscription"
                )
            ),
            obj.order.account.currency,
        )


@admin.register(ConsumeOrder)
class ConsumeOrderAdmin(ChangedFieldsSaveMixin, MoneyDetailMixin, CsvExportMixin, admin.ModelAdmin):
    list_display = [
        "pk",
        "order",
        "instance",
        "type",
        "status",
        money_column("amount"),
        "created_at",
        "paid_at",
    ]
    list_filter = ["type", "status", "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["order__order_id", "instance__prod_inst_id_ext"]
    list_select_related = ["order", "instance"]
    readonly_fields = [
        "order",
        "instance",
        "type",
        "status",
        "amount",
        "ledger_entry",
        "created_at",
        "paid_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
