"""``/api/v1`` routes of package orders (full paths)."""

from django.urls import path

from orders.package.api.instances import (
    InstanceChangeConfigView,
    InstancePauseView,
    InstanceRenewView,
    InstanceResumeView,
    InstanceStopView,
)
from orders.package.api.orders import (
    PackageOrderCancelView,
    PackageOrderChargeView,
    PackageOrderDetailView,
    PackageOrdersView,
)
from orders.package.api.records import BillsView, ConsumeOrdersView, MeterEventsView, MeterEventsVoidView

INST = "api/v1/instances/<str:prod_inst_id_ext>"

urlpatterns: list = [
    path("api/v1/package-orders", PackageOrdersView.as_view(), name="package-orders"),
    path("api/v1/package-orders/<str:order_id>", PackageOrderDetailView.as_view(), name="package-order"),
    path(
        "api/v1/package-orders/<str:order_id>/cancel",
        PackageOrderCancelView.as_view(),
        name="package-order-cancel",
    ),
    path(
        "api/v1/package-orders/<str:order_id>/charge",
        PackageOrderChargeView.as_view(),
        name="package-order-charge",
    ),
    path(f"{INST}/renew", InstanceRenewView.as_view(), name="instance-renew"),
    path(f"{INST}/stop", InstanceStopView.as_view(), name="instance-stop"),
    path(f"{INST}/pause", InstancePauseView.as_view(), name="instance-pause"),
    path(f"{INST}/resume", InstanceResumeView.as_view(), name="instance-resume"),
    path(f"{INST}/change-config", InstanceChangeConfigView.as_view(), name="instance-change-config"),
    path("api/v1/bills", BillsView.as_view(), name="package-bills"),
    path("api/v1/consume-orders", ConsumeOrdersView.as_view(), name="consume-orders"),
    path("api/v1/meter-events", MeterEventsView.as_view(), name="meter-events"),
    path("api/v1/meter-events/void", MeterEventsVoidView.as_view(), name="meter-events-void"),
]
