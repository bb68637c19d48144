"""Back office for purchase orders: read the orders and their history; finance staff may renew now or
cancel with a prorated refund of the unused days (with a reason). Every write goes through
``orders.purchase.services``: the admin never edits money or status fields."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from config.admin_tools import CsvExportMixin
from orders.admin_actions import OrderActionPermissionsMixin, purchase_cancel, purchase_renew
from orders.purchase.models import PurchaseOrder, PurchaseOrderEvent


class PurchaseOrderEventInline(admin.TabularInline):
    model = PurchaseOrderEvent
    extra = 0
    can_delete = False
    fields = ("time", "from_status", "to_status", "reason", "actor", "data")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(OrderActionPermissionsMixin, CsvExportMixin, admin.ModelAdmin):
    list_display = (
        "order_id", "account", "region", "plan", "quantities", "resource_name", "status", "deadline",
    )  # fmt: skip
    list_filter = ("status", "region", "plan__plan_type", "plan", "end_reason")
    search_fields = ("order_id", "resource_name", "account__namespace")
    date_hierarchy = "start_time"
    list_select_related = ("account", "plan")
    readonly_fields = [f.name for f in PurchaseOrder._meta.fields]
    inlines = [PurchaseOrderEventInline]
    # issue 8: the reason actions (orders/admin_actions.py) gated on orders.cancel_/renew_purchaseorder
    actions = [purchase_cancel, purchase_renew]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
