"""Promotions (docs/plans.md "Promotions"): the discount, the duration, the targets, the lookup
refusals, and the promotions of the catalog document."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from config.exceptions import DomainError
from plans.catalog import catalog_export, catalog_import
from plans.errors import PromotionRefused
from plans.models import Promotion, PromotionKind, PromotionStatus
from plans.promotions import discount_for, promotion_applies, promotion_covers, promotion_find
from tests.plans.factories import PlanFactory, ProductFactory, PromotionFactory

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def promo(**kw: object) -> Promotion:
    defaults: dict[str, object] = {"code": "X", "kind": PromotionKind.PERCENT, "value": Decimal("10")}
    return Promotion(**{**defaults, **kw})


@pytest.mark.parametrize(
    ("kind", "value", "gross", "discount"),
    [
        ("percent", "10", "99.99", "9.9990"),
        ("percent", "12.5", "0.0003", "0.0000"),  # 0.0000375 -> half-up to 4 places
        ("percent", "12.5", "0.0004", "0.0001"),  # 0.00005 -> half-up
        ("percent", "33.3333", "10", "3.3333"),
        ("percent", "100", "42.42", "42.4200"),
        ("amount", "5", "20", "5.0000"),
        ("amount", "50", "20", "20.0000"),  # never below a zero price
        ("amount", "5", "0", "0.0000"),
        ("amount", "5", "-3", "0.0000"),  # a refund is never discounted
    ],
)
def test_discount_is_decimal_half_up_and_never_more_than_the_gross(kind, value, gross, discount):
    got = discount_for(promotion=promo(kind=kind, value=Decimal(value)), gross=Decimal(gross))
    assert got == Decimal(discount) and str(got) == discount


def test_discount_refuses_floats():
    with pytest.raises(TypeError):
        discount_for(promotion=promo(), gross=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("duration", "n", "covered"),
    [
        ("once", None, [True, False, False, False]),
        ("periods", 3, [True, True, True, False]),
        ("forever", None, [True, True, True, True]),
    ],
)
def test_duration_covers_the_first_periods(duration, n, covered):
    p = promo(duration=duration, duration_periods=n)
    assert [promotion_covers(p, period_number=i) for i in (1, 2, 3, 4)] == covered
    assert promotion_covers(p, period_number=0) is False


@pytest.mark.django_db
def test_targets_match_plan_id_type_product_or_component():
    product = ProductFactory(prod_id="gpu")
    plan = PlanFactory(plan_id="gpu-std", plan_type="compute", product=product)
    other = PlanFactory(plan_id="disk", plan_type="storage")
    assert promotion_applies(promo(), plan=other)  # no targets: every plan
    assert promotion_applies(promo(plan_ids=["gpu-std"]), plan=plan)
    assert not promotion_applies(promo(plan_ids=["gpu-std"]), plan=other)
    assert promotion_applies(promo(plan_types=["storage"]), plan=other)
    assert promotion_applies(promo(products=["gpu"]), plan=plan)
    assert not promotion_applies(promo(products=["gpu"]), plan=other)
    assert promotion_applies(promo(components=["gpu/a100"]), plan=plan, component="gpu/a100")
    assert not promotion_applies(promo(components=["gpu/a100"]), plan=plan, component="gpu/t4")
    assert not promotion_applies(promo(components=["gpu/a100"]), plan=plan)


@pytest.mark.django_db
def test_find_by_code_any_case_or_pmid():
    plan = PlanFactory(plan_id="p1")
    p = PromotionFactory(code="save10")
    assert p.code == "SAVE10"
    assert promotion_find(field="coupon", at=NOW, plan=plan, code=" Save10 ") == p
    assert promotion_find(field="pmid", at=NOW, plan=plan, pmid=str(p.pmid)) == p


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ({}, "no such promotion"),
        ({"status": PromotionStatus.INACTIVE}, "is not active"),
        ({"valid_from": NOW + timedelta(seconds=1)}, "is not valid yet"),
        ({"valid_until": NOW}, "has expired"),
        ({"plan_ids": ["other"]}, "does not apply to plan 'p1'"),
    ],
)
def test_find_refuses_with_the_field_and_the_reason(setup, reason):
    plan = PlanFactory(plan_id="p1")
    code = "NOPE" if not setup else PromotionFactory(code="C1", **setup).code
    with pytest.raises(PromotionRefused) as info:
        promotion_find(field="coupon", at=NOW, plan=plan, code=code)
    assert reason in info.value.errors["coupon"][0]
    assert info.value.message.startswith("invalid parameters: coupon: ")


@pytest.mark.django_db
def test_find_refuses_a_bad_pmid():
    plan = PlanFactory(plan_id="p1")
    with pytest.raises(PromotionRefused) as info:
        promotion_find(field="pmid", at=NOW, plan=plan, pmid="not-a-uuid")
    assert info.value.errors == {"pmid": ["must be a UUID"]}
    with pytest.raises(PromotionRefused) as info:
        promotion_find(field="pmid", at=NOW, plan=plan, pmid=uuid.uuid4())
    assert info.value.errors == {"pmid": ["no such promotion"]}


# --- the catalog document ---------------------------------------------------------------------

PMID = "6f1c2f51-27a8-4d0c-9c8e-0c7f6a1e2b3c"


def document(**promotion: object) -> dict:
    return {
        "plans": [
            {
                "plan_id": "p1",
                "name": "P1",
                "plan_type": "volume",
                "billing_mode": "prepaid",
                "cycle": "month",
                "prices": [{"price": "10.0000", "effective_from": "2026-01-01T00:00:00Z"}],
            }
        ],
        "promotions": [
            {
                "code": "spring",
                "pmid": PMID,
                "name": "Spring",
                "kind": "percent",
                "value": "15",
                "applies_to": {"plans": ["p1"], "plan_types": ["volume"]},
                "valid_from": "2026-03-01T00:00:00Z",
                "valid_until": "2026-06-01T00:00:00Z",
                "duration": "periods",
                "duration_periods": 3,
                "max_redemptions": 100,
                "max_per_account": 1,
                **promotion,
            }
        ],
    }


@pytest.mark.django_db
def test_catalog_document_creates_exports_and_reimports_promotions_unchanged():
    report = catalog_import(document(), now=NOW)
    assert "promotion:SPRING" in report.created
    p = Promotion.objects.get()
    assert (p.code, str(p.pmid), p.value, p.duration_periods, p.plan_ids) == (
        "SPRING",
        PMID,
        Decimal("15"),
        3,
        ["p1"],
    )
    exported = catalog_export()
    assert exported["promotions"][0]["applies_to"] == {
        "plans": ["p1"],
        "plan_types": ["volume"],
        "products": [],
        "components": [],
    }
    assert exported["promotions"][0]["valid_from"] == "2026-03-01T00:00:00Z"
    again = catalog_import(exported, now=NOW)
    assert not again.changed


@pytest.mark.django_db
def test_catalog_document_updates_and_deactivates_missing_promotions():
    catalog_import(document(), now=NOW)
    report = catalog_import(document(value="20"), now=NOW)
    assert report.updated == ["promotion:SPRING"]
    assert Promotion.objects.get().value == Decimal("20")
    doc = document()
    doc["promotions"] = []
    report = catalog_import(doc, now=NOW)
    assert report.retired == ["promotion:SPRING"]
    assert Promotion.objects.get().status == PromotionStatus.INACTIVE
    doc.pop("promotions")  # absent key: promotions are left alone
    assert not catalog_import(doc, now=NOW).changed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        ({"kind": "half"}, "promotions[0].kind", "must be one of"),
        ({"value": "0"}, "promotions[0].value", "must be > 0"),
        ({"value": "101"}, "promotions[0].value", "at most 100"),
        ({"duration_periods": None}, "promotions[0].duration_periods", "required"),
        ({"duration": "once"}, "promotions[0].duration_periods", "only with duration"),
        ({"valid_until": "2026-02-01T00:00:00Z"}, "promotions[0].valid_until", "after valid_from"),
        ({"max_redemptions": 0}, "promotions[0].max_redemptions", ">= 1"),
        ({"pmid": "x"}, "promotions[0].pmid", "UUID"),
        ({"applies_to": {"plans": ["ghost"]}}, "promotions[0].applies_to.plans", "unknown plan"),
        ({"applies_to": {"regions": ["x"]}}, "promotions[0].applies_to.regions", "unknown target"),
        ({"applies_to": {"products": ["ghost"]}}, "promotions[0].applies_to", "unknown product"),
    ],
)
def test_catalog_document_refuses_bad_promotions_with_their_path(change, path, reason):
    with pytest.raises(DomainError) as info:
        catalog_import(document(**change), now=NOW)
    assert any(reason in msg for msg in info.value.errors[path]), info.value.errors
    assert not Promotion.objects.exists()


@pytest.mark.django_db
def test_a_redeemed_promotions_terms_are_frozen(db):
    from billing.models import Redemption
    from billing.services import account_get_or_create

    catalog_import(document(), now=NOW)
    account = account_get_or_create(namespace="acme")
    Redemption.objects.create(
        promotion=Promotion.objects.get(),
        account=account,
        seq=1,
        subject_type="purchase_order",
        subject_id="o1",
        redeemed_at=NOW,
    )
    with pytest.raises(DomainError) as info:
        catalog_import(document(value="50"), now=NOW)
    assert "has been redeemed" in info.value.errors["promotions[0].value"][0]
    # a new window or limit is fine
    doc = copy.deepcopy(document(max_redemptions=200))
    assert catalog_import(doc, now=NOW).updated == ["promotion:SPRING"]
