from django.urls import include, path

from tests.config.views_for_tests import BoomView, TopUpView

urlpatterns = [
    path("api/test/topup", TopUpView.as_view()),
    path("api/test/boom", BoomView.as_view()),
    path("", include("config.urls")),
]
