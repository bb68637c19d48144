"""Back office for vehicle orders: read-mostly; state changes go through the services."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin_tools import CsvExportMixin
from orders.admin_actions import OrderActionPermissionsMixin, vehicle_cancel, vehicle_underwrite
from orders.vehicle.models import VehicleOrder, VehicleOrderEvent, VehicleOrderItem


class VehicleOrderItemInline(admin.TabularInline):
    model = VehicleOrderItem
    extra = 0
    can_delete = False
    fields = ["plan", "piid", "name", "price"]
    readonly_fields = ["plan", "piid", "name", "price"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VehicleOrderEventInline(admin.TabularInline):
    """Events are never edited; oldest first, so the newest is last."""

    model = VehicleOrderEvent
    extra = 0
    can_delete = False
    ordering = ["occurred_at", "id"]
    fields = ["occurred_at", "kind", "from_state", "to_state", "actor", "data"]
    readonly_fields = ["occurred_at", "kind", "from_state", "to_state", "actor", "data"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VehicleOrder)
class VehicleOrderAdmin(OrderActionPermissionsMixin, CsvExportMixin, admin.ModelAdmin):
    list_display = [
        "order_no",
        "type",
        "state_code",
        "state",
        "vid",
        "owner",
        "summary",
        "payment",
        "updated_at",
    ]
    list_filter = ["type", "state_code", "created_at", "updated_at", "start_at", "stop_at"]
    search_fields = ["order_no", "vid"]
    list_select_related = ["owner", "account"]
    date_hierarchy = "created_at"
    ordering = ["-updated_at", "-id"]
    inlines = [VehicleOrderItemInline, VehicleOrderEventInline]
    # issue 8: the reason actions (orders/admin_actions.py) gated on orders.cancel_/underwrite_vehicleorder
    actions = [vehicle_cancel, vehicle_underwrite]
    readonly_fields = [f.name for f in VehicleOrder._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> Any:
        # ``vid`` is a UUID column: match it exactly instead of a LIKE that cannot use an index.
        term = search_term.strip()
        try:
            return queryset.filter(vid=uuid.UUID(term)), False
        except ValueError:
            return queryset.filter(order_no__istartswith=term) if term else queryset, False
