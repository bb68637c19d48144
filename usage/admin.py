"""Back office: the consumption history and meter events, read-only (they are written by services)."""

from __future__ import annotations

import io
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.safestring import mark_safe

from config.admin_tools import CsvExportMixin
from config.clock import local_tz
from usage.models import AuditRun, MeterEvent, UsageRecord
from usage.selectors import daily_series, range_label, report_range, usage_report


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(CsvExportMixin, ReadOnlyAdmin):
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

    def get_urls(self) -> list[URLPattern]:
        report = path("report/", self.admin_site.admin_view(report_view), name="usage_usagerecord_report")
        return [report, *super().get_urls()]  # type: ignore[list-item]


@admin.register(MeterEvent)
class MeterEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "event_id", "instance_ref", "component_id", "quantity", "timestamp")
    list_filter = ("component_id",)
    search_fields = ("event_id", "instance_ref", "account__namespace")
    date_hierarchy = "timestamp"
    list_select_related = ("account",)
    raw_id_fields = ("account",)


def report_view(request: HttpRequest) -> HttpResponse:
    """``/admin/usage/usagerecord/report/``: the report of ``usage_report`` (same selector) for a
    month, per order or per account, with the stacked daily chart as inline SVG."""
    from usage.management.commands.usage_report import draw_chart

    errors: dict[str, list[str]] = {}
    period = request.GET.get("period") or timezone.localtime(timezone.now(), local_tz()).strftime("%Y-%m")
    by = "account" if request.GET.get("by") == "account" else "order"
    start, end = report_range(period, None, None, errors)
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": f"Consumption report {period}",
        "period": period,
        "by": by,
        "errors": errors,
    }
    if start is not None and end is not None:
        report = usage_report(start=start, end=end, group_by=by)
        buf = io.BytesIO()
        draw_chart(
            daily_series(start=start, end=end, by=by),
            buf,
            title=f"Money per day {range_label(start, end)}",
            fmt="svg",
        )
        svg = buf.getvalue().decode()
        context.update(report=report, chart=mark_safe(svg[svg.find("<svg") :]))  # noqa: S308 - our own SVG
    html = engines["django"].from_string(REPORT_TEMPLATE).render(context, request)
    return HttpResponse(html)


REPORT_TEMPLATE = """{% extends "admin/base_site.html" %}
{% block content %}
<form method="get">Month <input name="period" value="{{ period }}" size="8">
 by <select name="by"><option value="order" {% if by == "order" %}selected{% endif %}>order</option>
 <option value="account" {% if by == "account" %}selected{% endif %}>account</option></select>
 <input type="submit" value="Show"></form>
{% if errors %}<p class="errornote">{{ errors }}</p>{% endif %}
{% if report %}
<div style="max-width:1000px">{{ chart }}</div>
<table><thead><tr><th>namespace</th>
{% if by == "order" %}<th>order</th><th>region</th><th>plan</th>{% endif %}
<th>money</th><th>records</th><th>arrears</th></tr></thead><tbody>
{% for r in report.rows %}<tr><td>{{ r.namespace }}</td>{% if by == "order" %}<td>{{ r.order_id }}</td>
<td>{{ r.region }}</td><td>{{ r.plan_id }}</td>{% endif %}<td>{{ r.amount }}</td><td>{{ r.records }}</td>
<td>{{ r.arrears }}</td></tr>
{% endfor %}<tr><th>TOTAL</th>{% if by == "order" %}<td></td><td></td><td></td>{% endif %}
<th>{{ report.total }}</th><th>{{ report.records }}</th><th>{{ report.arrears }}</th></tr></tbody></table>
{% endif %}
{% endblock %}"""


@admin.register(AuditRun)
class AuditRunAdmin(ReadOnlyAdmin):
    """The ledger audits (nightly by beat, or ``manage.py audit_ledger``); the dashboard shows the last."""

    list_display = ("started_at", "source", "namespace", "entries", "findings", "is_ok")
    list_filter = ("source",)
    ordering = ("-started_at", "-id")
    readonly_fields = (
        "started_at",
        "finished_at",
        "source",
        "namespace",
        "entries",
        "findings",
        "counts",
        "sample",
    )

    @admin.display(boolean=True, description="ok")
    def is_ok(self, obj: AuditRun) -> bool:
        return obj.ok
