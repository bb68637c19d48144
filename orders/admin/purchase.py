"""Back office for purchase orders: read the orders and their history; finance staff may renew now or
cancel with a prorated refund of the unused days (with a reason). Every write goes through
``orders.services.purchase``: the admin never edits money or status fields."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.utils import timezone

from config.admin_tools import CsvExportMixin
from config.exceptions import DomainError
from orders.admin_actions import OrderActionPermissionsMixin, purchase_cancel, purchase_renew
from orders.models.purchase import PurchaseOrder, PurchaseOrderEvent
from orders.services.purchase import purchase_order_cancel, purchase_order_renew

CONFIRM_TEMPLATE = """{% extends "admin/base_site.html" %}
{% block content %}
<h1>Cancel {{ orders|length }} order(s) with a refund of the unused days</h1>
<ul>{% for o in orders %}<li>{{ o.order_id }} ({{ o.account.namespace }}, {{ o.plan.plan_id }},
 paid until {{ o.deadline }})</li>{% endfor %}</ul>
<form method="post">{% csrf_token %}
{% for o in orders %}<input type="hidden" name="_selected_action" value="{{ o.pk }}">{% endfor %}
<input type="hidden" name="action" value="cancel_with_refund">
<p><label>Reason (required): <input type="text" name="reason" size="80" maxlength="200" required></label></p>
<input type="submit" name="apply" value="Cancel and refund">
</form>
{% endblock %}"""


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

    @admin.action(description="Renew now (charge the next period)", permissions=["change"])
    def renew_now(self, request: HttpRequest, queryset: QuerySet[PurchaseOrder]) -> None:
        for order in queryset.order_by("account_id", "pk"):
            try:
                result = purchase_order_renew(order_pk=order.pk, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{order.order_id}: {exc.message}", messages.ERROR)
                continue
            self.message_user(request, f"{order.order_id}: renewed until {result.period_end:%Y-%m-%d %H:%M}")

    @admin.action(description="Cancel with a prorated refund of the unused days", permissions=["change"])
    def cancel_with_refund(
        self, request: HttpRequest, queryset: QuerySet[PurchaseOrder]
    ) -> HttpResponse | None:
        reason = (request.POST.get("reason") or "").strip()
        if "apply" not in request.POST or not reason:
            if "apply" in request.POST:
                self.message_user(request, "a reason is required", messages.ERROR)
            template = engines["django"].from_string(CONFIRM_TEMPLATE)
            orders = list(queryset.select_related("account", "plan"))
            html = template.render({"orders": orders, **self.admin_site.each_context(request)}, request)
            return HttpResponse(html)
        for order in queryset.order_by("account_id", "pk"):
            try:
                _, refund = purchase_order_cancel(
                    order_pk=order.pk,
                    actor=request.user,
                    refund_unused=True,
                    reason=reason,
                    at=timezone.now(),
                )
            except DomainError as exc:
                self.message_user(request, f"{order.order_id}: {exc.message}", messages.ERROR)
                continue
            self.message_user(request, f"{order.order_id}: canceled, refunded {refund}")
        return None
