"""Admin: alert thresholds per account (editable by whoever may change them), alert states (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from billing.alerts.models import AlertState, AlertThreshold
from billing.alerts.rules import default_balance_below, default_runway_below_days
from config.admin_tools import ChangedFieldsSaveMixin


@admin.register(AlertThreshold)
class AlertThresholdAdmin(ChangedFieldsSaveMixin, admin.ModelAdmin):
    list_display = ["account", "balance_below", "runway_below_days", "updated_at"]
    search_fields = ["account__namespace"]
    autocomplete_fields = ["account"]
    list_select_related = ["account"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        defaults = {
            "balance_below": default_balance_below(),
            "runway_below_days": default_runway_below_days(),
        }
        for name, value in defaults.items():
            if name in form.base_fields:
                form.base_fields[name].help_text += f" (deployment default now: {value or 'off'})"
        return form


@admin.register(AlertState)
class AlertStateAdmin(admin.ModelAdmin):
    list_display = [
        "account",
        "kind",
        "fired_at",
        "balance",
        "runway_days",
        "threshold",
        "crossings",
        "rearmed_at",
    ]
    list_filter = ["kind", ("fired_at", admin.EmptyFieldListFilter)]
    search_fields = ["account__namespace"]
    list_select_related = ["account"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
