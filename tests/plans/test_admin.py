"""Admin smoke tests: pages render, used prices stay frozen, plans are retired not deleted."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from plans import demo
from plans.catalog import catalog_import
from plans.models import Plan, PlanStatus, PriceVersion
from plans.services import price_mark_used

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client, make_user):
    client.force_login(make_user("root", superuser=True))
    catalog_import(demo.demo_document())
    return client


@pytest.mark.parametrize(
    "model", ["plan", "priceversion", "product", "pricerule", "planitem", "meteredservice"]
)
def test_changelists_render(admin_client_, model):
    url = reverse(f"admin:plans_{model}_changelist")
    assert admin_client_.get(url).status_code == 200
    assert admin_client_.get(url, {"q": "ecs"}).status_code == 200


def test_change_pages_and_used_version_is_read_only(admin_client_):
    plan = Plan.objects.get(plan_id="vol-50g")
    version = plan.price_versions.get()
    price_mark_used(version_id=version.pk, at=version.effective_from)
    page = admin_client_.get(reverse("admin:plans_plan_change", args=[plan.pk]))
    assert page.status_code == 200
    assert b"disabled" in page.content
    detail = admin_client_.get(reverse("admin:plans_priceversion_change", args=[version.pk]))
    assert detail.status_code == 200 and b'name="price"' not in detail.content
    # Deleting a used version is refused.
    resp = admin_client_.post(reverse("admin:plans_priceversion_delete", args=[version.pk]), {"post": "yes"})
    assert resp.status_code == 403
    assert PriceVersion.objects.get(pk=version.pk).price == Decimal("10.0000")
    product = Plan.objects.get(plan_id="ecs-std").product
    assert admin_client_.get(reverse("admin:plans_product_change", args=[product.pk])).status_code == 200


def test_retire_action(admin_client_):
    plan = Plan.objects.get(plan_id="vol-100g")
    resp = admin_client_.post(
        reverse("admin:plans_plan_changelist"),
        {"action": "retire_plans", "_selected_action": [plan.pk]},
    )
    assert resp.status_code == 302
    plan.refresh_from_db()
    assert plan.status == PlanStatus.RETIRED
