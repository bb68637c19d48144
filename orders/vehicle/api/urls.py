from django.urls import path

from orders.vehicle.api.views import VehicleOrderViewSet

urlpatterns: list = [
    path(
        "api/v1/plan-orders",
        VehicleOrderViewSet.as_view({"post": "place_plan"}),
        name="vehicle-plan-order-place",
    ),
    path(
        "api/v1/driver-orders",
        VehicleOrderViewSet.as_view({"post": "place_driver"}),
        name="vehicle-driver-order-place",
    ),
    path(
        "api/v1/sale-orders",
        VehicleOrderViewSet.as_view({"post": "place_sale"}),
        name="vehicle-sale-order-place",
    ),
    path("api/v1/orders", VehicleOrderViewSet.as_view({"get": "list"}), name="vehicle-order-list"),
    path(
        "api/v1/orders/<str:order_id>",
        VehicleOrderViewSet.as_view({"get": "retrieve"}),
        name="vehicle-order-detail",
    ),
    path(
        "api/v1/orders/<str:order_id>/events",
        VehicleOrderViewSet.as_view({"get": "events"}),
        name="vehicle-order-events",
    ),
    path(
        "api/v1/orders/<str:order_id>/pay",
        VehicleOrderViewSet.as_view({"post": "pay"}),
        name="vehicle-order-pay",
    ),
    path(
        "api/v1/orders/<str:order_id>/cancel",
        VehicleOrderViewSet.as_view({"post": "cancel"}),
        name="vehicle-order-cancel",
    ),
    path(
        "api/v1/orders/<str:order_id>/underwrite",
        VehicleOrderViewSet.as_view({"post": "underwrite"}),
        name="vehicle-order-underwrite",
    ),
]
