from django.urls import include, path

urlpatterns: list = [
    path("", include("orders.purchase.api.urls")),
    path("", include("orders.package.api.urls")),
    path("", include("orders.vehicle.api.urls")),
]
