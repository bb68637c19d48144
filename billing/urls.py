from django.urls import include, path

urlpatterns: list = [
    path("", include("billing.api.urls")),
]
