from django.urls import path

from billing.api.me import MeView

urlpatterns: list = [
    path("api/v1/me", MeView.as_view(), name="me"),
]
