"""Back office: the consumption history and meter events, read-only (they are written by services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from usage.models import MeterEvent, UsageRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "account",
        "order_ref",
        "kind",
        "status",
        "plan",
        "period_start",
        "amount",
        "created_at",
    )
    list_filter = ("kind", "status", "source", "region", "plan")
    search_fields = ("order_ref", "account__namespace")
    date_hierarchy = "period_start"
    list_select_related = ("account", "plan")
    raw_id_fields = ("account", "plan", "price_version", "price_rule", "ledger_entry")


@admin.register(MeterEvent)
class MeterEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "event_id", "instance_ref", "component_id", "quantity", "timestamp")
    list_filter = ("component_id",)
    search_fields = ("event_id", "instance_ref", "account__namespace")
    date_hierarchy = "timestamp"
    list_select_related = ("account",)
    raw_id_fields = ("account",)
