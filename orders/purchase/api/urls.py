"""``/usageapi/v1`` routes (full paths, as the origin's clients call them)."""

from django.urls import path

from orders.purchase.api.usage import ReportsView, SpeedView, UsagesView
from orders.purchase.api.views import PurchaseOrderDetailView, PurchaseOrdersView

urlpatterns: list = [
    path("usageapi/v1/orders", PurchaseOrdersView.as_view(), name="usageapi-orders"),
    path("usageapi/v1/orders/<str:order_id>", PurchaseOrderDetailView.as_view(), name="usageapi-order"),
    path("usageapi/v1/usages", UsagesView.as_view(), name="usageapi-usages"),
    path("usageapi/v1/speed", SpeedView.as_view(), name="usageapi-speed"),
    path("usageapi/v1/reports", ReportsView.as_view(), name="usageapi-reports"),
]
