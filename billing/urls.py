from django.urls import include, path

from billing.sandbox import sandbox_pay_page

urlpatterns: list = [
    path("", include("billing.api.urls")),
    path("", include("billing.statements.api.urls")),
    path("sandbox/pay/<str:public_id>", sandbox_pay_page, name="sandbox-pay"),
]
