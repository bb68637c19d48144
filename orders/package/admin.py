"""Back office for package orders: read-only views of everything an order created.

State changes go through the API/services (they lock, check transitions and move money); the admin
shows the order with its instances, consume orders, events, and, rendered from the order page, the
subscription components (billing jobs included: hourly/postpaid lines with ``next_run_at``) and bills.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from config.admin_tools import CsvExportMixin
from config.money import money4
from orders.admin_actions import OrderActionPermissionsMixin, package_cancel, package_renew
from orders.engine.models import SubscriptionLine
from orders.package.models import ConsumeOrder, PackageOrder, PackageOrderEvent, ProductInstance
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


class ConsumeOrderInline(ReadOnlyInline):
    model = ConsumeOrder
    fields = ["type", "status", "amount", "instance", "ledger_entry", "created_at", "paid_at"]
    readonly_fields = ["type", "status", "amount", "instance", "ledger_entry", "created_at", "paid_at"]


class PackageOrderEventInline(ReadOnlyInline):
    model = PackageOrderEvent
    ordering = ["at", "id"]
    fields = ["at", "instance", "reason", "from_status", "to_status", "actor", "data"]
    readonly_fields = ["at", "instance", "reason", "from_status", "to_status", "actor", "data"]


def _lines_table(lines: list[SubscriptionLine]) -> SafeString:
    if not lines:
        return format_html("<em>{}</em>", "none")
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                getattr(
                    getattr(ln.subscription, "product_instance", None), "prod_inst_id_ext", ln.subscription_id
                ),
                ln.component_id,
                ln.billing_mode,
                ln.cycle,
                money4(ln.price),
                ln.status,
                ln.paid_until or "-",
                ln.next_run_at or "-",
            )
            for ln in lines
        ),
    )
    return format_html(
        "<table><tr><th>instance</th><th>component</th><th>mode</th><th>cycle</th><th>price</th>"
        "<th>status</th><th>paid until</th><th>next run (job)</th></tr>{}</table>",
        rows,
    )


def _bills_table(records: list[UsageRecord]) -> SafeString:
    if not records:
        return format_html("<em>{}</em>", "none")
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} - {}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td></tr>",
        (
            (
                r.pk,
                r.component_id,
                r.kind,
                r.period_start,
                r.period_end,
                r.quantity,
                money4(r.amount),
                r.status,
                r.ledger_entry_id or "-",
            )
            for r in records
        ),
    )
    return format_html(
        "<table><tr><th>id</th><th>component</th><th>kind</th><th>period</th><th>qty</th><th>amount</th>"
        "<th>status</th><th>ledger entry</th></tr>{}</table>",
        rows,
    )


@admin.register(PackageOrder)
class PackageOrderAdmin(OrderActionPermissionsMixin, CsvExportMixin, admin.ModelAdmin):
    list_display = [
        "order_id",
        "account",
        "app_id",
        "status",
        "cost",
        "amount_payable",
        "created_at",
        "paid_at",
    ]
    list_filter = ["status"]
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
        "components",
        "bills",
    ]
    inlines = [ProductInstanceInline, ConsumeOrderInline, PackageOrderEventInline]

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
        return _lines_table(lines)

    @admin.display(description="bills")
    def bills(self, obj: PackageOrder) -> SafeString:
        records = list(
            UsageRecord.objects.filter(source=UsageSource.PACKAGE, order_ref=obj.order_id).order_by(
                "period_start", "id"
            )
        )
        return _bills_table(records)


@admin.register(ProductInstance)
class ProductInstanceAdmin(admin.ModelAdmin):
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
            )
        )


@admin.register(ConsumeOrder)
class ConsumeOrderAdmin(admin.ModelAdmin):
    list_display = ["pk", "order", "instance", "type", "status", "amount", "created_at", "paid_at"]
    list_filter = ["type", "status"]
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
