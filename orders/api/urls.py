from django.urls import include, path

urlpatterns: list = [
    path("", include("orders.api.purchase_urls")),
    path("", include("orders.api.package_urls")),
    path("", include("orders.api.vehicle_urls")),
]
