from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.admin_tools import restrict_to_superusers
from config.api.views import healthz
from orders.metrics import metrics_view

# The beat schedules are operational internals: superusers only (issue 8).
restrict_to_superusers(admin.site)
# The back office's lists need the width of a 1366 px laptop: no app sidebar (Home lists the apps).
admin.site.enable_nav_sidebar = False
admin.site.site_header = "Tally back office"
admin.site.site_title = "Tally back office"
admin.site.index_title = "Finance and operations"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("orders.dashboard.urls")),  # admin/dashboard/, before admin/
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("plans.urls")),
    path("", include("billing.urls")),
    path("", include("usage.urls")),
    path("", include("orders.urls")),
]

handler404 = "config.api.views.handler404"
handler500 = "config.api.views.handler500"
