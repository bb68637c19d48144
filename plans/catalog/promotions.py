"""Promotions in the catalog document (docs/plans.md "Promotions"): the ``promotions`` list is
parsed, checked, applied and exported like the rest of the document. An absent key leaves the
promotions alone; a listed one is upserted by ``code``; a promotion the list no longer names is
set ``inactive`` (never deleted: redemptions refer to it). The terms that priced a redemption
(``kind``, ``value``, ``duration``, ``duration_periods``) are frozen once redeemed, as used prices are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from config.money import money4
from plans.catalog.document import ImportReport, iso_utc
from plans.catalog.fields import ID_HINT, ID_RE, FieldValidator
from plans.models import (
    Plan,
    Product,
    Promotion,
    PromotionDuration,
    PromotionKind,
    PromotionStatus,
    promotion_code,
)

TARGETS = {
    "plans": "plan_ids",
    "plan_types": "plan_types",
    "products": "products",
    "components": "components",
}
FROZEN_WHEN_REDEEMED = ("kind", "value", "duration", "duration_periods")


@dataclass
class DocPromotion:
    code: str
    pmid: uuid.UUID | None
    name: str
    kind: str
    value: Decimal
    targets: dict[str, list[str]]  # model field -> ids
    valid_from: datetime | None
    valid_until: datetime | None
    duration: str
    duration_periods: int | None
    max_redemptions: int | None
    max_per_account: int | None
    status: str
    path: str

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "value": self.value,
            **self.targets,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "duration": self.duration,
            "duration_periods": self.duration_periods,
            "max_redemptions": self.max_redemptions,
            "max_per_account": self.max_per_account,
            "status": self.status,
        }


def parse_promotions(v: FieldValidator, root: dict[str, Any]) -> list[DocPromotion] | None:
    raw = v.lst(root, "promotions", "")
    if raw is None:
        return None
    out: list[DocPromotion] = []
    codes: set[str] = set()
    pmids: set[uuid.UUID] = set()
    for at, d in v.objects(raw, "promotions"):
        promo = _parse_one(v, d, at)
        if promo.code in codes:
            v.err(f"{at}.code", f"duplicate promotion {promo.code!r}")
        if promo.pmid is not None and promo.pmid in pmids:
            v.err(f"{at}.pmid", "duplicate pmid")
        codes.add(promo.code)
        if promo.pmid is not None:
            pmids.add(promo.pmid)
        out.append(promo)
    return out


def _parse_one(v: FieldValidator, d: dict[str, Any], at: str) -> DocPromotion:
    p = f"{at}."
    code = promotion_code(v.text(d, "code", p, max_len=50, pattern=ID_RE, hint=ID_HINT))
    kind = v.choice(d, "kind", p, PromotionKind.values, required=True)
    value = v.money(d, "value", p)
    if value <= 0:
        v.err(f"{p}value", "must be > 0")
    elif kind == PromotionKind.PERCENT and value > 100:
        v.err(f"{p}value", "a percent is at most 100")
    duration = v.choice(d, "duration", p, PromotionDuration.values, required=False) or PromotionDuration.ONCE
    periods = _count(v, d, "duration_periods", p)
    if duration == PromotionDuration.PERIODS and periods is None:
        v.err(f"{p}duration_periods", "required (a whole number >= 1) when duration is 'periods'")
    elif duration != PromotionDuration.PERIODS and periods is not None:
        v.err(f"{p}duration_periods", "only with duration 'periods'")
    valid_from = v.time(d, "valid_from", p) if d.get("valid_from") is not None else None
    valid_until = v.time(d, "valid_until", p) if d.get("valid_until") is not None else None
    if valid_from and valid_until and valid_until <= valid_from:
        v.err(f"{p}valid_until", "must be after valid_from")
    return DocPromotion(
        code=code,
        pmid=_pmid(v, d, p),
        name=v.text(d, "name", p, required=False),
        kind=kind,
        value=value,
        targets=_targets(v, d, p),
        valid_from=valid_from,
        valid_until=valid_until,
        duration=duration,
        duration_periods=periods,
        max_redemptions=_count(v, d, "max_redemptions", p),
        max_per_account=_count(v, d, "max_per_account", p),
        status=v.choice(d, "status", p, PromotionStatus.values, required=False) or PromotionStatus.ACTIVE,
        path=at,
    )


def _pmid(v: FieldValidator, d: dict[str, Any], p: str) -> uuid.UUID | None:
    raw = d.get("pmid")
    if raw is None:
        return None
    try:
        return uuid.UUID(raw) if isinstance(raw, str) else uuid.UUID(int=-1)
    except ValueError:
        pass
    v.err(f"{p}pmid", "must be a UUID")
    return None


def _count(v: FieldValidator, d: dict[str, Any], key: str, p: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2_147_483_647:
        v.err(f"{p}{key}", "must be a whole number >= 1 (or null: no limit)")
        return None
    return value


def _targets(v: FieldValidator, d: dict[str, Any], p: str) -> dict[str, list[str]]:
    applies = d.get("applies_to") or {}
    out: dict[str, list[str]] = {field: [] for field in TARGETS.values()}
    if not isinstance(applies, dict):
        v.err(f"{p}applies_to", "must be an object of id lists")
        return out
    for key, ids in applies.items():
        if key not in TARGETS:
            v.err(f"{p}applies_to.{key}", f"unknown target; use {', '.join(TARGETS)}")
        elif not isinstance(ids, list) or not all(isinstance(i, str) and 0 < len(i) <= 101 for i in ids):
            v.err(f"{p}applies_to.{key}", "must be a list of ids")
        else:
            out[TARGETS[key]] = sorted(set(ids))
    return out


def check_promotions(
    v: FieldValidator, promotions: list[DocPromotion], *, doc_plans: set[str], doc_products: set[str]
) -> None:
    """References exist (in the document or the database); a redeemed promotion's terms stay."""
    plans = set(Plan.objects.values_list("plan_id", flat=True)) | doc_plans
    products = set(Product.objects.values_list("prod_id", flat=True)) | doc_products
    stored = {p.code: p for p in Promotion.objects.all()}
    redeemed = set(
        Promotion.objects.filter(redemptions__isnull=False).values_list("code", flat=True).distinct()
    )
    owners = {p.pmid: code for code, p in stored.items()}
    for dp in promotions:
        p = f"{dp.path}."
        for plan_id in dp.targets["plan_ids"]:
            if plan_id not in plans:
                v.err(f"{p}applies_to.plans", f"unknown plan {plan_id!r}")
        for prod_id in dp.targets["products"] + [c.split("/", 1)[0] for c in dp.targets["components"]]:
            if prod_id not in products:
                v.err(f"{p}applies_to", f"unknown product {prod_id!r}")
        if dp.pmid is not None and owners.get(dp.pmid, dp.code) != dp.code:
            v.err(f"{p}pmid", f"belongs to promotion {owners[dp.pmid]!r}")
        old = stored.get(dp.code)
        if old is not None and dp.pmid is not None and old.pmid != dp.pmid:
            v.err(f"{p}pmid", f"promotion {dp.code!r} has pmid {old.pmid}")
        if old is not None and dp.code in redeemed:
            for key in FROZEN_WHEN_REDEEMED:
                if getattr(old, key) != getattr(dp, key):
                    v.err(f"{p}{key}", f"frozen at {getattr(old, key)!s}: the promotion has been redeemed")


def apply_promotions(promotions: list[DocPromotion], report: ImportReport, *, retire_missing: bool) -> None:
    listed = set()
    for dp in promotions:
        listed.add(dp.code)
        values = dp.values()
        promo = Promotion.objects.filter(code=dp.code).first()
        if promo is None:
            Promotion.objects.create(code=dp.code, pmid=dp.pmid or uuid.uuid4(), **values)
            report.created.append(f"promotion:{dp.code}")
            continue
        changed = [k for k, val in values.items() if getattr(promo, k) != val]
        for k in changed:
            setattr(promo, k, values[k])
        if changed:
            promo.save(update_fields=[*changed, "updated_at"])
            report.updated.append(f"promotion:{dp.code}")
    missing = Promotion.objects.filter(status=PromotionStatus.ACTIVE).exclude(code__in=listed).order_by("pk")
    for promo in missing if retire_missing else []:
        promo.status = PromotionStatus.INACTIVE
        promo.save(update_fields=["status", "updated_at"])
        report.retired.append(f"promotion:{promo.code}")


def export_promotions() -> list[dict[str, Any]]:
    return [
        {
            "code": p.code,
            "pmid": str(p.pmid),
            "name": p.name,
            "kind": p.kind,
            "value": money4(p.value),
            "applies_to": {key: list(getattr(p, field)) for key, field in TARGETS.items()},
            "valid_from": iso_utc(p.valid_from) if p.valid_from else None,
            "valid_until": iso_utc(p.valid_until) if p.valid_until else None,
            "duration": p.duration,
            "duration_periods": p.duration_periods,
            "max_redemptions": p.max_redemptions,
            "max_per_account": p.max_per_account,
            "status": p.status,
        }
        for p in Promotion.objects.order_by("code")
    ]
