"""Back office: the consumption history and meter events, read-only (they are written by services)."""

from __future__ import annotations

import io
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from config.admin_lists import BigListAdminMixin
from config.admin_tools import CsvExportMixin, ReadOnlyAdmin
from config.clock import local_tz
from config.display import UNIT_PRICE_PLACES, local_period, money_column, money_html
from usage.models import AuditRun, MeterEvent, UsageRecord
from usage.selectors import daily_series, range_label, report_range, usage_report


@admin.register(UsageRecord)
class UsageRecordAdmin(BigListAdminMixin, CsvExportMixin, ReadOnlyAdmin):
    list_display = (
        "id", "period", "account", "order", "plan", "kind", "status", "qty",
        money_column("unit_price", "unit price", places=UNIT_PRICE_PLACES), money_column("amount"),
        money_column("discount"),
    )  # fmt: skip
    csv_fields = (
        "id", "account", "source", "order_ref", "region", "plan", "component_id", "period_start",
        "period_end", "quantity", money_column("unit_price", "unit price", places=UNIT_PRICE_PLACES),
        money_column("amount", places=UNIT_PRICE_PLACES), money_column("discount", places=UNIT_PRICE_PLACES),
        "kind", "corrects", "status", "ledger_entry", "created_at", "paid_at",
    )  # fmt: skip
    list_filter = ("status", "kind", "source", "region", "plan", "period_start")
    exact_search_fields = ("account__namespace", "^order_ref")  # a million rows: config/admin_lists.py
    date_hierarchy = "period_start"
    list_prefetch_related = ("account", "plan")
    raw_id_fields = ("account", "plan", "price_version", "price_rule", "ledger_entry", "corrects")

    @admin.display(description="period", ordering="period_start")
    def period(self, obj: UsageRecord) -> str:
        return local_period(obj.period_start, obj.period_end)

    @admin.display(description="order", ordering="order_ref")
    def order(self, obj: UsageRecord) -> SafeString:
        return format_html('<span class="tally-wrap">{}</span>', obj.order_ref)

    @admin.display(description="qty", ordering="quantity")
    def qty(self, obj: UsageRecord) -> SafeString:
        text = f"{obj.quantity.normalize():f}" if obj.quantity is not None else "-"
        return format_html('<span class="tally-num" style="display:block">{}</span>', text)

    def get_urls(self) -> list[URLPattern]:
        report = path(
            "report/", self.admin_site.admin_view(self.report_view), name="usage_usagerecord_report"
        )
        return [report, *super().get_urls()]  # type: ignore[list-item]

    def report_view(self, request: HttpRequest) -> HttpResponse:
        """The report shows every tenant's money: only for those who may see the records (staff
        status alone only signs in, docs/security.md)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return report_view(request)


@admin.register(MeterEvent)
class MeterEventAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "timestamp", "account", "event_id", "instance_ref", "component_id", "quantity", "late",
        "billed_record_id", "voided_at",
    )  # fmt: skip
    list_filter = ("component_id", "late", "timestamp")
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
        shown = ("amount", "gross", "discount", "corrections", "arrears")
        for row in report.rows:
            row.update({f"{name}_shown": money_html(row[name]) for name in shown})
        totals = {"amount": report.total, **{n: getattr(report, n) for n in shown[1:]}}
        context.update({f"{name}_total_shown": money_html(v) for name, v in totals.items()})
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
<table class="tally-table" id="usage-report"><thead><tr><th>namespace</th>
{% if by == "order" %}<th>order</th><th>region</th><th>plan</th>{% endif %}
<th class="num">gross</th><th class="num">discount</th><th class="num">money (net)</th>
<th class="num">records</th><th class="num">corrections</th><th class="num">arrears</th></tr></thead><tbody>
{% for r in report.rows %}<tr><td>{{ r.namespace }}</td>{% if by == "order" %}<td>{{ r.order_id }}</td>
<td>{{ r.region }}</td><td>{{ r.plan_id }}</td>{% endif %}<td class="num">{{ r.gross_shown }}</td>
<td class="num">{{ r.discount_shown }}</td><td class="num">{{ r.amount_shown }}</td>
<td class="num">{{ r.records }}</td>
<td class="num">{{ r.corrections_shown }} ({{ r.correction_records }})</td>
<td class="num">{{ r.arrears_shown }}</td></tr>
{% endfor %}<tr><th>TOTAL</th>{% if by == "order" %}<td></td><td></td><td></td>{% endif %}
<th class="num">{{ gross_total_shown }}</th><th class="num">{{ discount_total_shown }}</th>
<th class="num" id="report-total">{{ amount_total_shown }}</th><th class="num">{{ report.records }}</th>
<th class="num">{{ corrections_total_shown }} ({{ report.correction_records }})</th>
<th class="num">{{ arrears_total_shown }}</th></tr></tbody></table>
{% endif %}
{% endblock %}"""


@admin.register(AuditRun)
class AuditRunAdmin(ReadOnlyAdmin):
    """The ledger audits (nightly by beat, or ``manage.py audit_ledger``); the dashboard shows the last."""

    list_display = ("started_at", "source", "namespace", "entries", "findings", "is_ok")
    list_filter = ("source", "started_at")
    search_fields = ("namespace",)
    date_hierarchy = "started_at"
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
