"""Catalog API (docs/plans.md "API"): reads for every signed-in user, writes by permission (never is_staff).

Thin: serializers validate (3307 naming the field), services write, selectors price.
"""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config import clock
from config.powers import has_staff_power
from plans.api.filters import PlanFilter
from plans.api.serializers import (
    CostRequestSerializer,
    CostSerializer,
    ImportReportSerializer,
    PlanDetailSerializer,
    PlanSerializer,
    PlanWriteSerializer,
    PriceVersionCreateSerializer,
    PriceVersionSerializer,
    ProductSerializer,
    SyncRequestSerializer,
    error_responses,
    reject_unknown,
)
from plans.catalog import catalog_export
from plans.models import Plan, PriceRule, PriceVersion, Product
from plans.selectors import get_cost, plan_get
from plans.services import plan_create, plan_update, price_version_add
from plans.sync import sync_plans

# What each catalog call needs (issue 13; docs/security.md "Permissions and tenancy"): Django
# permissions, never the is_staff flag. Reads are for everyone signed in.
CATALOG_WRITE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "create": ("plans.add_plan",),
    "partial_update": ("plans.change_plan",),
    "prices": ("plans.add_priceversion",),
}
CATALOG_EXPORT_PERMISSIONS = ("plans.view_plan",)
CATALOG_SYNC_PERMISSIONS = ("plans.add_plan", "plans.change_plan", "plans.add_priceversion")


def _has_all(request: Request, perms: tuple[str, ...]) -> bool:
    return has_staff_power(request.user, *perms)


class CatalogWritesPermission(permissions.BasePermission):
    """Everyone signed in reads the catalog; a change needs its permission (403/3306 otherwise)."""

    message = "changing the catalog needs the permission plans.add_plan / change_plan / add_priceversion"

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        needed = CATALOG_WRITE_PERMISSIONS.get(getattr(view, "action", "") or "")
        if needed is None:  # a write this table does not name: only a superuser
            return has_staff_power(request.user) and bool(request.user.is_superuser)
        self.message = f"needs the permission {', '.join(needed)}"
        return _has_all(request, needed)


class HasPermissions(permissions.BasePermission):
    """The view's ``required_permissions``, all of them (403/3306 naming them otherwise)."""

    message = "permission denied"

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = tuple(view.required_permissions)
        self.message = f"needs the permission {', '.join(needed)}"
        return _has_all(request, needed)


def _with_details(qs: QuerySet[Plan]) -> QuerySet[Plan]:
    return qs.prefetch_related(
        Prefetch("price_versions", PriceVersion.objects.select_related("created_by")),
        Prefetch("rules", PriceRule.objects.select_related("component")),
        "items",
    )


class PlansView:
    error_family = "plans"


def _with_current_price(qs: QuerySet[Plan]) -> QuerySet[Plan]:
    current = PriceVersion.objects.filter(plan=OuterRef("pk"), effective_from__lte=clock.now()).order_by(
        "-effective_from"
    )
    return qs.annotate(price=Subquery(current.values("price")[:1]))


@extend_schema(tags=["plans"])
@extend_schema_view(
    list=extend_schema(
        summary="List plans", responses={200: PlanSerializer(many=True), **error_responses(400, 401)}
    ),
    retrieve=extend_schema(
        summary="A plan with its price versions, rules and items",
        responses={200: PlanDetailSerializer, **error_responses(401, 404)},
    ),
)
class PlanViewSet(PlansView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [CatalogWritesPermission]
    lookup_field = "plan_id"
    lookup_value_regex = "[^/]+"
    filterset_class = PlanFilter
    serializer_class = PlanSerializer

    def get_queryset(self) -> QuerySet[Plan]:
        qs = Plan.objects.select_related("product").order_by("plan_id")
        return _with_current_price(qs if self.action == "list" else _with_details(qs))

    def get_serializer_class(self) -> Any:
        return PlanSerializer if self.action == "list" else PlanDetailSerializer

    def get_object(self) -> Plan:
        plan = plan_get(self.kwargs["plan_id"])  # 404/3601 naming the plan id
        return self.get_queryset().get(pk=plan.pk)

    def _detail(self, plan: Plan, code: int = status.HTTP_200_OK) -> Response:
        fresh = _with_current_price(_with_details(Plan.objects.select_related("product"))).get(pk=plan.pk)
        return Response(PlanDetailSerializer(fresh).data, status=code)

    @extend_schema(
        summary="Create a plan (plans.add_plan)",
        request=PlanWriteSerializer,
        responses={201: PlanDetailSerializer, **error_responses(400, 401, 403, 409)},
    )
    def create(self, request: Request) -> Response:
        ser = PlanWriteSerializer(data=request.data)
        reject_unknown(ser, request.data, read_only=("status",))
        ser.is_valid(raise_exception=True)
        plan = plan_create(**ser.validated_data, actor=request.user)
        return self._detail(plan, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a plan (plans.change_plan); status 'retired' retires it",
        request=PlanWriteSerializer(partial=True),
        responses={200: PlanDetailSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, plan_id: str) -> Response:
        plan = plan_get(plan_id)
        ser = PlanWriteSerializer(data=request.data, partial=True)
        reject_unknown(ser, request.data, read_only=("plan_id",))
        ser.is_valid(raise_exception=True)
        plan = plan_update(plan=plan, changes=dict(ser.validated_data), actor=request.user)
        return self._detail(plan)

    @extend_schema(
        summary="Publish a price version (plans.add_priceversion); must start one cycle ahead unless force",
        request=PriceVersionCreateSerializer,
        responses={201: PriceVersionSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def prices(self, request: Request, plan_id: str) -> Response:
        plan = plan_get(plan_id)
        ser = PriceVersionCreateSerializer(data=request.data)
        reject_unknown(ser, request.data)
        ser.is_valid(raise_exception=True)
        version = price_version_add(plan=plan, actor=request.user, **ser.validated_data)
        version = PriceVersion.objects.select_related("created_by").get(pk=version.pk)
        return Response(PriceVersionSerializer(version).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["plans"])
@extend_schema_view(
    list=extend_schema(
        summary="List products with their components",
        responses={200: ProductSerializer(many=True), **error_responses(400, 401)},
    ),
    retrieve=extend_schema(
        summary="A product with its components",
        responses={200: ProductSerializer, **error_responses(401, 404)},
    ),
)
class ProductViewSet(PlansView, viewsets.ReadOnlyModelViewSet):
    permission_classes = [permissions.IsAuthenticated]
    lookup_field = "prod_id"
    lookup_value_regex = "[^/]+"
    serializer_class = ProductSerializer
    filterset_class = None
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Product]:
        return Product.objects.prefetch_related("components", "plans").order_by("prod_id")

    def get_object(self) -> Product:
        from plans.selectors import product_get

        product_get(self.kwargs["prod_id"])
        return self.get_queryset().get(prod_id=self.kwargs["prod_id"])


@extend_schema(tags=["plans"])
class CostView(PlansView, APIView):
    """The seed's ``getcost``: one price per component of a product's plan, and the total."""

    @extend_schema(
        summary="Price components of a product's plan",
        request=CostRequestSerializer,
        responses={200: CostSerializer, **error_responses(400, 401, 404)},
    )
    def post(self, request: Request) -> Response:
        ser = CostRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        result = get_cost(
            prod_id=data["prod_id"], plan_id=data["plan_id"], components=data["components"], at=clock.now()
        )
        body = {
            "components": [
                {
                    "component_id": c.component_id,
                    "billing_mode": c.billing_mode,
                    "cycle": c.cycle,
                    "unit": c.unit,
                    "price": c.price,
                }
                for c in result.components
            ],
            "total": result.total,
        }
        return Response(CostSerializer(body).data)


@extend_schema(tags=["plans"])
class CatalogView(PlansView, APIView):
    """The whole catalog in the plan-service format (importing it again changes nothing)."""

    permission_classes = [HasPermissions]
    required_permissions = CATALOG_EXPORT_PERMISSIONS

    @extend_schema(
        summary="Export the catalog document (plans.view_plan)",
        responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        return Response(catalog_export())


@extend_schema(tags=["plans"])
class SyncView(PlansView, APIView):
    """Sync from ``PLAN_SERVICE_URL`` now. The URL is configuration, never a request parameter."""

    permission_classes = [HasPermissions]
    required_permissions = CATALOG_SYNC_PERMISSIONS

    @extend_schema(
        summary="Sync the catalog from the plan service now (plans.add_plan, change_plan, add_priceversion)",
        request=SyncRequestSerializer,
        responses={200: ImportReportSerializer, **error_responses(400, 401, 403, 503)},
    )
    def post(self, request: Request) -> Response:
        ser = SyncRequestSerializer(data=request.data)
        reject_unknown(ser, request.data)
        ser.is_valid(raise_exception=True)
        report = sync_plans(dry_run=ser.validated_data["dry_run"], force=ser.validated_data["force"])
        return Response(ImportReportSerializer(report.as_dict()).data)
