"""Back office for purchase orders: read the orders, their history (as sentences) and bills; finance
staff may renew now or cancel with a prorated refund of the unused days (with a reason). Every
write goes through ``orders.purchase.services``: the admin never edits money or status fields."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.safestring import SafeString

from config.admin_lists import BigListAdminMixin
from config.admin_tools import ChangedFieldsSaveMixin, CsvExportMixin
from config.display import MoneyDetailMixin, local_time
from config.event_sentences import event_line, events_html
from orders.admin_actions import OrderActionPermissionsMixin
from orders.admin_tables import bills_table, ledger_link
from orders.purchase.admin_actions import purchase_cancel, purchase_renew
from orders.purchase.models import PurchaseOrder, PurchaseOrderEvent
from usage.models import UsageRecord, UsageSource

SUMMARY_FIELDS: list[Any] = ["order_id", "account", "status", "plan", "resource_name", "deadline"]
DETAIL_FIELDS: list[Any] = [
    "end_reason", "region", "quantities", "start_time", "end_time", "creator", "switched_from", "parameters",
    "created_at", "updated_at",
]  # fmt: skip


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(
    ChangedFieldsSaveMixin,
    BigListAdminMixin,
    MoneyDetailMixin,
    OrderActionPermissionsMixin,
    CsvExportMixin,
    admin.ModelAdmin,
):
    list_display = ("order_id", "account", "plan", "resource_name", "status", "deadline_shown", "start_time")
    csv_fields = (
        "order_id", "account", "region", "plan", "quantities", "resource_name", "status", "end_reason",
        "start_time", "deadline", "end_time",
    )  # fmt: skip
    list_filter = ("status", "region", "plan__plan_type", "plan", "end_reason", "start_time", "deadline")
    exact_search_fields = ("account__namespace", "^order_id", "^resource_name")  # config/admin_lists.py
    date_hierarchy = "start_time"
    list_prefetch_related = ("account", "plan")
    fieldsets = [
        (None, {"fields": SUMMARY_FIELDS}),
        ("History", {"fields": ["history"]}),
        ("Bills and money", {"fields": ["ledger", "bills"]}),
        ("Details", {"fields": DETAIL_FIELDS}),
    ]
    readonly_fields = [*SUMMARY_FIELDS, *DETAIL_FIELDS, "history", "ledger", "bills"]
    # issue 8: the reason actions gated on orders.cancel_/renew_purchaseorder
    actions = [purchase_cancel, purchase_renew]

    @admin.display(description="deadline", ordering="deadline")
    def deadline_shown(self, obj: PurchaseOrder) -> str:
        return local_time(obj.deadline)

    @admin.display(description="events")
    def history(self, obj: PurchaseOrder) -> SafeString:
        events = obj.events.select_related("actor").order_by("time", "id")
        currency = obj.account.currency
        labels = dict(PurchaseOrderEvent._meta.get_field("to_status").choices or [])
        return events_html(
            [
                event_line(
                    reason=e.reason, at=e.time, actor=e.actor, data=e.data, currency=currency,
                    from_label=str(labels.get(e.from_status, "")) if e.from_status is not None else "",
                    to_label=str(labels.get(e.to_status, e.to_status)),
                )
                for e in events
            ]
        )  # fmt: skip

    @admin.display(description="ledger")
    def ledger(self, obj: PurchaseOrder) -> SafeString:
        return ledger_link(obj.order_id)

    @admin.display(description="bills (usage records)")
    def bills(self, obj: PurchaseOrder) -> SafeString:
        records = UsageRecord.objects.filter(source=UsageSource.PURCHASE, order_ref=obj.order_id)
        return bills_table(list(records.order_by("period_start", "id")), currency=obj.account.currency)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
