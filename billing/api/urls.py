from django.urls import path

from billing.alerts.api import AlertsView
from billing.api.internal import CheckQuotaView, DeductQuotaBatchView, DeductQuotaView, PaymentCallbackView
from billing.api.me import MeView
from billing.api.views import AccountView, RechargeViewSet, RecordsView

urlpatterns: list = [
    path("api/v1/me", MeView.as_view(), name="me"),
    path("api/v1/billing/account", AccountView.as_view(), name="billing-account"),
    path("api/v1/billing/alerts", AlertsView.as_view(), name="billing-alerts"),
    path("api/v1/billing/recharge", RechargeViewSet.as_view({"post": "create"}), name="billing-recharge"),
    path(
        "api/v1/billing/recharges/<str:public_id>",
        RechargeViewSet.as_view({"get": "retrieve"}),
        name="billing-recharge-detail",
    ),
    path("api/v1/billing/records", RecordsView.as_view(), name="billing-records"),
    path("internal/v1/billing/check-quota", CheckQuotaView.as_view(), name="billing-check-quota"),
    path("internal/v1/billing/deduct-quota", DeductQuotaView.as_view(), name="billing-deduct-quota"),
    path(
        "internal/v1/billing/deduct-quota/batch",
        DeductQuotaBatchView.as_view(),
        name="billing-deduct-quota-batch",
    ),
    path("internal/v1/billing/callback", PaymentCallbackView.as_view(), name="billing-callback"),
]
