"""The finance dashboard's URL, inside the admin site (included by ``config/urls.py`` before
``admin/``, whose catch-all would answer the path otherwise)."""

from django.contrib import admin
from django.urls import path

from orders.dashboard.views import dashboard_view

urlpatterns: list = [
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="tally_admin_dashboard"),
]
