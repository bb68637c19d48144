from django.urls import include, path

urlpatterns: list = [
    path("", include("orders.api.urls")),
]
