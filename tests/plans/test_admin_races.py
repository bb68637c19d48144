"""Catalog change pages against what commits between the page's read and its save.

A charge that uses a price after the page showed it editable makes the save a form error (a used
price is frozen, docs/plans.md); a plan retired meanwhile stays retired; a column the model's
``clean()`` sets is saved with the fields the form changed (``ChangedFieldsSaveMixin``)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from plans import demo
from plans.admin import PlanAdmin, PriceRuleAdmin, PriceVersionAdmin, PriceVersionInlineForm
from plans.catalog import catalog_import
from plans.models import Plan, PlanStatus, PriceRule, PriceVersion, Promotion
from plans.services import plan_retire, price_mark_used
from tests.admin.change_forms import change_form_data

pytestmark = pytest.mark.django_db
FROZEN = b"a used price is frozen"


@pytest.fixture
def root_client(client, make_user):
    client.force_login(make_user("root", superuser=True))
    catalog_import(demo.demo_document())
    return client


def _on_post_after_read(monkeypatch, admin_class, action) -> None:
    """``action`` commits right after the change page's POST has read the object."""
    real_get_object = admin_class.get_object

    def get_object_then_act(self, request, object_id, from_field=None):
        obj = real_get_object(self, request, object_id, from_field)
        if request.method == "POST":
            action()
        return obj

    monkeypatch.setattr(admin_class, "get_object", get_object_then_act)


def test_a_version_page_saves_a_new_price_while_no_charge_used_it(root_client) -> None:
    version = Plan.objects.get(plan_id="vol-50g").price_versions.get()
    url = reverse("admin:plans_priceversion_change", args=[version.pk])
    data = change_form_data(root_client.get(url)) | {"price": "12.5000"}
    r = root_client.post(url, data)
    assert r.status_code == 302, r.content[:800]
    after = PriceVersion.objects.get(pk=version.pk)
    assert after.price == Decimal("12.5000") and after.first_used_at is None


def test_a_version_used_after_the_page_read_is_not_changed(root_client, monkeypatch) -> None:
    version = Plan.objects.get(plan_id="vol-50g").price_versions.get()
    url = reverse("admin:plans_priceversion_change", args=[version.pk])
    data = change_form_data(root_client.get(url)) | {"price": "12.5000"}
    used_at = version.effective_from
    _on_post_after_read(
        monkeypatch, PriceVersionAdmin, lambda: price_mark_used(version_id=version.pk, at=used_at)
    )
    r = root_client.post(url, data)
    assert r.status_code == 200 and FROZEN in r.content
    after = PriceVersion.objects.get(pk=version.pk)
    assert after.price == Decimal("10.0000") and after.first_used_at == used_at


def test_a_rule_used_after_the_page_read_is_not_changed(root_client, monkeypatch) -> None:
    rule = PriceRule.objects.order_by("pk").first()
    assert rule is not None and rule.first_used_at is None
    url = reverse("admin:plans_pricerule_change", args=[rule.pk])
    data = change_form_data(root_client.get(url)) | {"price": str(rule.price + 1)}
    _on_post_after_read(
        monkeypatch, PriceRuleAdmin, lambda: price_mark_used(rule_id=rule.pk, at=rule.effective_from)
    )
    r = root_client.post(url, data)
    assert r.status_code == 200 and FROZEN in r.content
    after = PriceRule.objects.get(pk=rule.pk)
    assert after.price == rule.price and after.first_used_at == rule.effective_from


def test_the_plan_page_refuses_an_inline_price_used_after_the_read(root_client, monkeypatch) -> None:
    plan = Plan.objects.get(plan_id="vol-50g")
    version = plan.price_versions.get()
    url = reverse("admin:plans_plan_change", args=[plan.pk])
    data = change_form_data(root_client.get(url)) | {"price_versions-0-price": "12.5000"}
    assert data["price_versions-0-id"] == version.pk
    real_init = PriceVersionInlineForm.__init__

    def read_then_use(self, *args, **kwargs):  # the inline read its row: a charge uses it now
        real_init(self, *args, **kwargs)
        if self.is_bound and self.instance.pk == version.pk:
            price_mark_used(version_id=version.pk, at=version.effective_from)

    monkeypatch.setattr(PriceVersionInlineForm, "__init__", read_then_use)
    r = root_client.post(url, data)
    assert r.status_code == 200 and FROZEN in r.content
    after = PriceVersion.objects.get(pk=version.pk)
    assert after.price == Decimal("10.0000") and after.first_used_at == version.effective_from


def test_the_plan_page_ignores_a_posted_price_of_a_version_used_before_the_read(
    root_client, monkeypatch
) -> None:
    plan = Plan.objects.get(plan_id="vol-50g")
    version = plan.price_versions.get()
    url = reverse("admin:plans_plan_change", args=[plan.pk])
    data = change_form_data(root_client.get(url)) | {"price_versions-0-price": "12.5000"}
    _on_post_after_read(
        monkeypatch, PlanAdmin, lambda: price_mark_used(version_id=version.pk, at=version.effective_from)
    )
    r = root_client.post(url, data)  # the inline reads the row after the stamp: its fields are disabled
    assert r.status_code == 302, r.content[:800]
    after = PriceVersion.objects.get(pk=version.pk)
    assert after.price == Decimal("10.0000") and after.first_used_at == version.effective_from


def test_a_plan_retired_after_the_page_read_stays_retired(root_client, monkeypatch, make_user) -> None:
    plan = Plan.objects.get(plan_id="vol-50g")
    url = reverse("admin:plans_plan_change", args=[plan.pk])
    data = change_form_data(root_client.get(url)) | {"name": "Volume 50 GB (renamed)"}
    assert data["status"] == PlanStatus.ACTIVE
    actor = make_user("ops", staff=True)
    _on_post_after_read(
        monkeypatch, PlanAdmin, lambda: plan_retire(plan=Plan.objects.get(pk=plan.pk), actor=actor)
    )
    r = root_client.post(url, data)
    assert r.status_code == 302, r.content[:800]
    after = Plan.objects.get(pk=plan.pk)
    assert after.name == "Volume 50 GB (renamed)" and after.status == PlanStatus.RETIRED


def test_a_promotion_leaving_periods_saves_the_period_count_its_clean_cleared(root_client) -> None:
    promo = Promotion.objects.create(
        code="SPRING3", kind="percent", value=Decimal("10"), duration="periods", duration_periods=3
    )
    url = reverse("admin:plans_promotion_change", args=[promo.pk])
    data = change_form_data(root_client.get(url)) | {"duration": "once"}
    assert data["duration_periods"] == 3
    r = root_client.post(url, data)
    assert r.status_code == 302, r.content[:800]
    after = Promotion.objects.get(pk=promo.pk)
    assert after.duration == "once" and after.duration_periods is None
