from django.urls import path

from plans.api.views import CatalogView, CostView, PlanViewSet, ProductViewSet, SyncView

urlpatterns: list = [
    path("api/v1/plans", PlanViewSet.as_view({"get": "list", "post": "create"}), name="plans-list"),
    path("api/v1/plans/sync", SyncView.as_view(), name="plans-sync"),
    path(
        "api/v1/plans/<str:plan_id>",
        PlanViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="plans-detail",
    ),
    path("api/v1/plans/<str:plan_id>/prices", PlanViewSet.as_view({"post": "prices"}), name="plans-prices"),
    path("api/v1/products", ProductViewSet.as_view({"get": "list"}), name="products-list"),
    path(
        "api/v1/products/<str:prod_id>", ProductViewSet.as_view({"get": "retrieve"}), name="products-detail"
    ),
    path("api/v1/cost", CostView.as_view(), name="plans-cost"),
    path("api/v1/catalog", CatalogView.as_view(), name="plans-catalog"),
]
