"""Back office for vehicle orders: read-mostly; state changes go through the services. The history
reads as sentences ("paid 1,500.00 CNY by finance, 08:24 CST")."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from config.admin_tools import ChangedFieldsSaveMixin, CsvExportMixin
from config.display import MoneyDetailMixin, money_column
from config.event_sentences import event_line, events_html
from orders.admin_actions import OrderActionPermissionsMixin
from orders.admin_tables import ledger_link
from orders.vehicle.admin_actions import vehicle_cancel, vehicle_underwrite
from orders.vehicle.models import VehicleOrder, VehicleOrderDiscount, VehicleOrderItem, VehicleOrderState

DETAIL_FIELDS: list[Any] = [f.name for f in VehicleOrder._meta.fields if f.name != "id"]


class VehicleOrderItemInline(MoneyDetailMixin, admin.TabularInline):
    model = VehicleOrderItem
    extra = 0
    can_delete = False
    fields = ["plan", "piid", "name", "price"]
    readonly_fields = ["plan", "piid", "name", "price"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VehicleOrderDiscountInline(VehicleOrderItemInline):
    """The promotion line of a plan order placed with a ``pmid`` (its redemption: Billing)."""

    model = VehicleOrderDiscount  # type: ignore[assignment]
    fields = ["code", "promotion", "gross", "amount"]
    readonly_fields = ["code", "promotion", "gross", "amount"]


@admin.register(VehicleOrder)
class VehicleOrderAdmin(
    ChangedFieldsSaveMixin, MoneyDetailMixin, OrderActionPermissionsMixin, CsvExportMixin, admin.ModelAdmin
):
    list_display = [
        "order_no", "type", "state_code", "owner", "account", money_column("summary", "total"),
        money_column("payment"), "created_at", "updated_at",
    ]  # fmt: skip
    csv_fields = [
        "order_no", "order_id", "type", "state_code", "vid", "owner", "account",
        money_column("summary", "total"), money_column("payment"), "start_at", "stop_at", "created_at",
        "updated_at",
    ]  # fmt: skip
    list_filter = ["type", "state_code", "created_at", "updated_at", "start_at", "stop_at"]
    search_fields = ["order_no", "vid"]
    list_select_related = ["owner", "account"]
    date_hierarchy = "created_at"
    ordering = ["-updated_at", "-id"]
    inlines = [VehicleOrderItemInline, VehicleOrderDiscountInline]
    # issue 8: the reason actions gated on orders.cancel_/underwrite_vehicleorder
    actions = [vehicle_cancel, vehicle_underwrite]

    fieldsets = [(None, {"fields": DETAIL_FIELDS}), ("History", {"fields": ["history", "ledger"]})]
    readonly_fields = [*DETAIL_FIELDS, "history", "ledger"]

    @admin.display(description="events")
    def history(self, obj: VehicleOrder) -> SafeString:
        labels = dict(VehicleOrderState.choices)
        currency = obj.account.currency if obj.account_id else ""
        return events_html(
            [
                event_line(
                    reason=e.kind, at=e.occurred_at, actor=e.actor, data=e.data, currency=currency,
                    from_label=str(labels.get(e.from_state, "")) if e.from_state is not None else "",
                    to_label=str(labels.get(e.to_state, e.to_state)),
                )
                for e in obj.events.select_related("actor").order_by("occurred_at", "id")
            ]
        )  # fmt: skip

    @admin.display(description="ledger")
    def ledger(self, obj: VehicleOrder) -> SafeString:
        return ledger_link(obj.order_no)

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
