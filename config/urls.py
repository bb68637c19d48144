from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include("plans.urls")),
    path("", include("billing.urls")),
    path("", include("usage.urls")),
    path("", include("orders.urls")),
]

handler404 = "config.api.views.handler404"
handler500 = "config.api.views.handler500"
