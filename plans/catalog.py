"""The catalog document (API.md "The catalog document"): validate, import, export.

An import is all-or-nothing: the whole document is validated first (shape, then against the
database) and every problem is reported with its JSON path (``plans[2].prices[0].price``); only a
valid document is applied, in one transaction. Export produces the same format, so exporting and
importing again changes nothing.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction

from config import clock
from config.api.errors import ErrorCode
from config.db import is_deadlock
from config.exceptions import DomainError, domain_error
from config.money import money4
from plans.models import (
    BillingMode,
    Component,
    Cycle,
    MeteredService,
    Plan,
    PlanItem,
    PlanStatus,
    PriceRule,
    PriceVersion,
    Product,
)
from plans.selectors import attrs_key

logger = logging.getLogger(__name__)

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
MAX_INTEGER_DIGITS = 16
IMPORT_ATTEMPTS = 3


# --- the parsed document --------------------------------------------------------------------------


@dataclass
class DocComponent:
    component_id: str
    name: str
    billing_mode: str
    cycle: str
    unit: str


@dataclass
class DocProduct:
    prod_id: str
    name: str
    description: str
    components: list[DocComponent]


@dataclass
class DocPrice:
    price: Decimal
    effective_from: datetime
    path: str


@dataclass
class DocRule:
    component_id: str
    attrs: dict[str, Any]
    price: Decimal
    effective_from: datetime
    path: str

    @property
    def key(self) -> tuple[str, str, datetime]:
        return (self.component_id, attrs_key(self.attrs), self.effective_from)


@dataclass
class DocItem:
    piid: uuid.UUID
    name: str
    price: Decimal
    path: str


@dataclass
class DocPlan:
    plan_id: str
    name: str
    description: str
    plan_type: str
    region: str
    billing_mode: str
    cycle: str
    unit: str
    status: str
    prod_id: str | None
    prices: list[DocPrice]
    rules: list[DocRule]
    items: list[DocItem]
    path: str


@dataclass
class DocService:
    service: str
    unit_price: Decimal
    monthly_free_quota: int
    active: bool


@dataclass
class CatalogDocument:
    products: list[DocProduct] | None  # None: the key was absent, leave products alone
    plans: list[DocPlan]
    metered_services: list[DocService] | None


@dataclass
class ImportReport:
    """What an import changed (or, with ``dry_run``, would change). Ids are ``kind:id``."""

    dry_run: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)
    removed_versions: list[str] = field(default_factory=list)
    kept_used: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.created or self.updated or self.retired or self.new_versions or self.removed_versions
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"created {len(self.created)}, updated {len(self.updated)}, retired {len(self.retired)}, "
            f"new price versions {len(self.new_versions)}, removed future versions "
            f"{len(self.removed_versions)}, used versions kept {len(self.kept_used)}"
            + (" (dry run: nothing saved)" if self.dry_run else "")
        )


# --- shape validation ---------------------------------------------------------------------------


class _Validator:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def err(self, path: str, msg: str) -> None:
        self.errors.setdefault(path, []).append(msg)

    def obj(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.err(path, "must be an object")
            return None
        return value

    def lst(self, d: dict[str, Any], key: str, path: str, *, required: bool = False) -> list[Any] | None:
        if key not in d or d[key] is None:
            if required:
                self.err(f"{path}{key}", "required (a list)")
            return None
        if not isinstance(d[key], list):
            self.err(f"{path}{key}", "must be a list")
            return None
        return list(d[key])

    def text(
        self,
        d: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        max_len: int = 200,
        pattern: re.Pattern[str] | None = None,
        default: str = "",
        hint: str = "",
    ) -> str:
        value = d.get(key)
        if value is None or value == "":
            if required:
                self.err(f"{path}{key}", "required")
            return default
        if not isinstance(value, str):
            self.err(f"{path}{key}", "must be a string")
            return default
        if len(value) > max_len:
            self.err(f"{path}{key}", f"at most {max_len} characters")
        elif pattern is not None and not pattern.match(value):
            self.err(f"{path}{key}", hint or f"must match {pattern.pattern}")
        return value

    def choice(self, d: dict[str, Any], key: str, path: str, choices: list[str], *, required: bool) -> str:
        value = d.get(key)
        if value is None or value == "":
            if required:
                self.err(f"{path}{key}", f"required, one of {', '.join(choices)}")
            return ""
        if value not in choices:
            self.err(f"{path}{key}", f"must be one of {', '.join(choices)}")
            return ""
        return str(value)

    def money(self, d: dict[str, Any], key: str, path: str) -> Decimal:
        value = d.get(key)
        where = f"{path}{key}"
        if value is None:
            self.err(where, "required (a decimal string)")
            return Decimal(0)
        if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
            self.err(where, 'must be a decimal string such as "10.00"')
            return Decimal(0)
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            self.err(where, f"not a decimal amount: {str(value)[:40]!r}")
            return Decimal(0)
        if not amount.is_finite():
            self.err(where, "must be a finite amount")
            return Decimal(0)
        if amount < 0:
            self.err(where, "must be >= 0")
        if abs(amount) >= Decimal(10) ** MAX_INTEGER_DIGITS:
            self.err(where, f"at most {MAX_INTEGER_DIGITS} digits before the decimal point")
            return Decimal(0)
        if amount != amount.quantize(Decimal("0.0001")):
            self.err(where, "at most 4 decimal places")
        return amount

    def time(self, d: dict[str, Any], key: str, path: str) -> datetime:
        value = d.get(key)
        where = f"{path}{key}"
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        if not isinstance(value, str) or not value:
            self.err(where, "required (ISO 8601 time with offset, e.g. 2026-01-01T00:00:00Z)")
            return epoch
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.err(where, f"not an ISO 8601 time: {value[:40]!r}")
            return epoch
        if parsed.tzinfo is None:
            self.err(where, "must carry a UTC offset (e.g. 'Z')")
            return epoch
        return parsed.astimezone(UTC)

    def attrs(self, d: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        value = d.get(key, {})
        where = f"{path}{key}"
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.err(where, "must be an object of attribute values")
            return {}
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k or len(k) > 50:
                self.err(where, f"bad attribute name {str(k)[:60]!r}")
            elif isinstance(v, bool | int | str):
                out[k] = v
            elif isinstance(v, Decimal) and v.is_finite():
                out[k] = str(v)
            else:
                self.err(f"{where}.{k}", "must be a string, number or boolean")
        return out


def parse_document(document: Any) -> tuple[CatalogDocument | None, dict[str, list[str]]]:
    """The document's shape and internal consistency (no database reads)."""
    v = _Validator()
    root = v.obj(document, "$")
    if root is None:
        return None, v.errors
    products = _parse_products(v, root)
    plans = _parse_plans(v, root)
    services = _parse_services(v, root)
    if v.errors:
        return None, v.errors
    return CatalogDocument(products=products, plans=plans or [], metered_services=services), {}


def _parse_products(v: _Validator, root: dict[str, Any]) -> list[DocProduct] | None:
    raw = v.lst(root, "products", "")
    if raw is None:
        return None
    out: list[DocProduct] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        p = f"products[{i}]."
        d = v.obj(item, f"products[{i}]")
        if d is None:
            continue
        prod_id = v.text(d, "prod_id", p, max_len=50, pattern=ID_RE, hint="use 1-50 letters, digits, _ or -")
        if prod_id in seen:
            v.err(f"{p}prod_id", f"duplicate product {prod_id!r}")
        seen.add(prod_id)
        components: list[DocComponent] = []
        comp_seen: set[str] = set()
        for j, citem in enumerate(v.lst(d, "components", p) or []):
            cp = f"{p}components[{j}]."
            c = v.obj(citem, f"{p}components[{j}]")
            if c is None:
                continue
            cid = v.text(
                c, "component_id", cp, max_len=50, pattern=ID_RE, hint="use 1-50 letters, digits, _ or -"
            )
            if cid in comp_seen:
                v.err(f"{cp}component_id", f"duplicate component {cid!r}")
            comp_seen.add(cid)
            components.append(
                DocComponent(
                    component_id=cid,
                    name=v.text(c, "name", cp, required=False, default=cid) or cid,
                    billing_mode=v.choice(c, "billing_mode", cp, BillingMode.values, required=True),
                    cycle=v.choice(c, "cycle", cp, Cycle.values, required=True),
                    unit=v.text(c, "unit", cp, required=False, max_len=30, default="instance") or "instance",
                )
            )
        out.append(
            DocProduct(
                prod_id=prod_id,
                name=v.text(d, "name", p, required=False, default=prod_id) or prod_id,
                description=v.text(d, "description", p, required=False, max_len=10_000),
                components=components,
            )
        )
    return out


def _parse_plans(v: _Validator, root: dict[str, Any]) -> list[DocPlan] | None:
    raw = v.lst(root, "plans", "", required=True)
    if raw is None:
        return None
    out: list[DocPlan] = []
    seen: set[str] = set()
    piids: dict[uuid.UUID, str] = {}
    for i, item in enumerate(raw):
        p = f"plans[{i}]."
        d = v.obj(item, f"plans[{i}]")
        if d is None:
            continue
        plan_id = v.text(d, "plan_id", p, max_len=50, pattern=ID_RE, hint="use 1-50 letters, digits, _ or -")
        if plan_id in seen:
            v.err(f"{p}plan_id", f"duplicate plan {plan_id!r}")
        seen.add(plan_id)
        prod_id = v.text(d, "prod_id", p, required=False, max_len=50, pattern=ID_RE) or None
        rules_raw = v.lst(d, "rules", p) or []
        has_rules = prod_id is not None
        billing_mode = v.choice(d, "billing_mode", p, BillingMode.values, required=not has_rules)
        cycle = v.choice(d, "cycle", p, Cycle.values, required=not has_rules)
        if rules_raw and not prod_id:
            v.err(f"{p}prod_id", "required when the plan has rules (the product whose components they price)")

        prices: list[DocPrice] = []
        starts: set[datetime] = set()
        for j, praw in enumerate(v.lst(d, "prices", p) or []):
            pp = f"{p}prices[{j}]."
            pd = v.obj(praw, f"{p}prices[{j}]")
            if pd is None:
                continue
            price = DocPrice(v.money(pd, "price", pp), v.time(pd, "effective_from", pp), f"{p}prices[{j}]")
            if price.effective_from in starts:
                v.err(f"{pp}effective_from", "two prices start at the same time")
            starts.add(price.effective_from)
            prices.append(price)
        if prices and not cycle and has_rules:
            v.err(f"{p}cycle", "required when the plan has prices")

        rules: list[DocRule] = []
        rule_keys: set[tuple[str, str, datetime]] = set()
        for j, rraw in enumerate(rules_raw):
            rp = f"{p}rules[{j}]."
            rd = v.obj(rraw, f"{p}rules[{j}]")
            if rd is None:
                continue
            rule = DocRule(
                component_id=v.text(rd, "component_id", rp, max_len=50, pattern=ID_RE),
                attrs=v.attrs(rd, "attrs", rp),
                price=v.money(rd, "price", rp),
                effective_from=v.time(rd, "effective_from", rp),
                path=f"{p}rules[{j}]",
            )
            if rule.key in rule_keys:
                v.err(f"{rp}attrs", "another rule of this component has the same attrs and start")
            rule_keys.add(rule.key)
            rules.append(rule)

        items: list[DocItem] = []
        for j, iraw in enumerate(v.lst(d, "items", p) or []):
            ip = f"{p}items[{j}]."
            idd = v.obj(iraw, f"{p}items[{j}]")
            if idd is None:
                continue
            piid_raw = idd.get("piid")
            try:
                piid = uuid.UUID(str(piid_raw)) if isinstance(piid_raw, str) else None
            except ValueError:
                piid = None
            if piid is None:
                v.err(f"{ip}piid", "required, a UUID")
                piid = uuid.UUID(int=0)
            elif piid in piids:
                v.err(f"{ip}piid", f"duplicate item (also {piids[piid]})")
            piids[piid] = f"{p}items[{j}]"
            items.append(DocItem(piid, v.text(idd, "name", ip), v.money(idd, "price", ip), f"{p}items[{j}]"))

        region = d.get("region")
        if region is not None and (not isinstance(region, str) or len(region) > 50):
            v.err(f"{p}region", "must be a region name (at most 50 characters) or null for every region")
            region = ""
        out.append(
            DocPlan(
                plan_id=plan_id,
                name=v.text(d, "name", p),
                description=v.text(d, "description", p, required=False, max_len=10_000),
                plan_type=v.text(
                    d, "plan_type", p, max_len=50, pattern=SLUG_RE, hint="use a lower-case slug"
                ),
                region=region or "",
                billing_mode=billing_mode,
                cycle=cycle,
                unit=v.text(d, "unit", p, required=False, max_len=30, default="instance") or "instance",
                status=v.choice(d, "status", p, PlanStatus.values, required=False) or PlanStatus.ACTIVE,
                prod_id=prod_id,
                prices=prices,
                rules=rules,
                items=items,
                path=f"plans[{i}]",
            )
        )
    return out


def _parse_services(v: _Validator, root: dict[str, Any]) -> list[DocService] | None:
    raw = v.lst(root, "metered_services", "")
    if raw is None:
        return None
    out: list[DocService] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        p = f"metered_services[{i}]."
        d = v.obj(item, f"metered_services[{i}]")
        if d is None:
            continue
        name = v.text(d, "service", p, max_len=50, pattern=ID_RE)
        if name in seen:
            v.err(f"{p}service", f"duplicate service {name!r}")
        seen.add(name)
        quota = d.get("monthly_free_quota", 0)
        if isinstance(quota, bool) or not isinstance(quota, int) or not 0 <= quota <= 2_147_483_647:
            v.err(f"{p}monthly_free_quota", "must be a whole number >= 0")
            quota = 0
        active = d.get("active", True)
        if not isinstance(active, bool):
            v.err(f"{p}active", "must be true or false")
            active = True
        out.append(DocService(name, v.money(d, "unit_price", p), quota, active))
    return out


# --- validation against the database -----------------------------------------------------------


def _check_against_db(
    doc: CatalogDocument, *, now: datetime, force: bool, retire_missing: bool = True
) -> dict[str, list[str]]:
    v = _Validator()
    if retire_missing and not doc.plans and Plan.objects.filter(status=PlanStatus.ACTIVE).exists():
        # A plan service that answers an empty list is far more likely broken than retiring
        # the whole catalog on purpose (staff retire plans one by one in the admin or API).
        v.err("plans", "empty: that would retire every active plan; refused")
    doc_components: dict[str, set[str]] = {}
    for product in doc.products or []:
        doc_components[product.prod_id] = {c.component_id for c in product.components}
    db_components: dict[str, set[str]] = {}
    for prod_id, cid in Component.objects.values_list("product__prod_id", "component_id"):
        db_components.setdefault(prod_id, set()).add(cid)
    known_products = set(Product.objects.values_list("prod_id", flat=True)) | set(doc_components)
    item_owner = dict(PlanItem.objects.values_list("piid", "plan__plan_id"))
    plans = {p.plan_id: p for p in Plan.objects.select_related("product")}

    for dp in doc.plans:
        p = f"{dp.path}."
        if dp.prod_id and dp.prod_id not in known_products:
            v.err(f"{p}prod_id", f"unknown product {dp.prod_id!r}")
        components = doc_components.get(dp.prod_id or "", set()) | db_components.get(dp.prod_id or "", set())
        for rule in dp.rules:
            if dp.prod_id in known_products and rule.component_id not in components:
                v.err(
                    f"{rule.path}.component_id",
                    f"product {dp.prod_id!r} has no component {rule.component_id!r}",
                )
        for item in dp.items:
            owner = item_owner.get(item.piid)
            if owner is not None and owner != dp.plan_id:
                v.err(f"{item.path}.piid", f"item {item.piid} belongs to plan {owner!r}")
        plan = plans.get(dp.plan_id)
        if plan is None:
            continue
        _check_frozen(v, dp, plan)
        _check_new_prices(v, dp, plan, now=now, force=force)
    return v.errors


def _check_frozen(v: _Validator, dp: DocPlan, plan: Plan) -> None:
    """Mode, cycle, unit and product give a used price its meaning; they cannot change."""
    used = (
        plan.price_versions.filter(first_used_at__isnull=False).exists()
        or plan.rules.filter(first_used_at__isnull=False).exists()
    )
    if not used:
        return
    current = {
        "billing_mode": plan.billing_mode,
        "cycle": plan.cycle,
        "unit": plan.unit,
        "prod_id": plan.product.prod_id if plan.product else None,
    }
    wanted = {"billing_mode": dp.billing_mode, "cycle": dp.cycle, "unit": dp.unit, "prod_id": dp.prod_id}
    for key, value in wanted.items():
        if (value or None) != (current[key] or None):
            v.err(f"{dp.path}.{key}", f"frozen at {current[key]!r}: a charge used this plan's prices")


def _check_new_prices(v: _Validator, dp: DocPlan, plan: Plan, *, now: datetime, force: bool) -> None:
    """A changed price (new version or new amount of an unused one) must start one cycle ahead
    unless forced; the first price of a plan or of a rule condition may start any time."""
    existing = {pv.effective_from: pv for pv in plan.price_versions.all()}
    cycle = dp.cycle or plan.cycle
    if existing and cycle:
        earliest = clock.add_cycles(now, cycle, 1)
        for price in dp.prices:
            old = existing.get(price.effective_from)
            changed = old is None or (old.price != price.price and old.first_used_at is None)
            if changed and price.effective_from < earliest and not force:
                v.err(
                    f"{price.path}.effective_from",
                    f"a new price must start at or after {earliest.isoformat()} (one {cycle} ahead)",
                )
    rules = list(plan.rules.select_related("component"))
    by_cond: dict[tuple[str, str], dict[datetime, PriceRule]] = {}
    for r in rules:
        by_cond.setdefault((r.component.component_id, attrs_key(r.attrs)), {})[r.effective_from] = r
    cycles = dict(Component.objects.filter(rules__plan=plan).values_list("component_id", "cycle"))
    for rule in dp.rules:
        versions = by_cond.get((rule.component_id, attrs_key(rule.attrs)))
        if not versions or rule.component_id not in cycles:
            continue
        old_rule = versions.get(rule.effective_from)
        changed = old_rule is None or (old_rule.price != rule.price and old_rule.first_used_at is None)
        earliest = clock.add_cycles(now, cycles[rule.component_id], 1)
        if changed and rule.effective_from < earliest and not force:
            v.err(
                f"{rule.path}.effective_from",
                f"a new price must start at or after {earliest.isoformat()} "
                f"(one {cycles[rule.component_id]} ahead)",
            )


def _invalid(errors: dict[str, list[str]]) -> DomainError:
    shown = "; ".join(f"{k}: {', '.join(msgs)}" for k, msgs in list(errors.items())[:10])
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return domain_error(
        ErrorCode.CATALOG_INVALID,
        f"catalog document invalid: {shown}{more}",
        errors=errors,
    )


# --- import --------------------------------------------------------------------------------------


def catalog_import(
    document: Any,
    *,
    dry_run: bool = False,
    force: bool = False,
    retire_missing: bool = True,
    now: datetime | None = None,
) -> ImportReport:
    """Validate the whole document, then upsert it (DOMAIN.md 3 "Sync").

    Plans missing from the document are retired, never deleted (orders refer to them). Used price
    versions and rules are never edited. Unused versions starting in the future that the document
    no longer lists are withdrawn. With ``dry_run`` everything runs and is rolled back, so the
    report is exactly what a real run would do. 3607 (nothing changed) if the document is invalid.
    """
    now = now or clock.now()
    doc, errors = parse_document(document)
    if doc is None:
        raise _invalid(errors)
    if connection.in_atomic_block:  # the caller owns the transaction: no retry possible here
        return _import_once(doc, dry_run=dry_run, force=force, retire_missing=retire_missing, now=now)
    for attempt in range(1, IMPORT_ATTEMPTS + 1):
        try:
            return _import_once(doc, dry_run=dry_run, force=force, retire_missing=retire_missing, now=now)
        except (IntegrityError, OperationalError) as exc:
            # Two first imports into an empty catalog have no plan rows to lock: the loser hits a
            # unique key (or a deadlock on MariaDB). Its transaction is gone; run it again on the
            # winner's rows.
            retryable = isinstance(exc, IntegrityError) or is_deadlock(exc)
            if not retryable or attempt == IMPORT_ATTEMPTS:
                raise
            logger.warning("catalog import collided with another import (%s), retry %d", exc, attempt)
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


def _import_once(
    doc: CatalogDocument, *, dry_run: bool, force: bool, retire_missing: bool, now: datetime
) -> ImportReport:
    with transaction.atomic():
        # Serialize imports: one sync at a time decides what disappeared.
        list(Plan.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
        errors = _check_against_db(doc, now=now, force=force, retire_missing=retire_missing)
        if errors:
            raise _invalid(errors)
        report = _apply(doc, now=now, dry_run=dry_run, retire_missing=retire_missing)
        if dry_run:
            transaction.set_rollback(True)
    logger.info("catalog import%s: %s", " (dry run)" if dry_run else "", report.summary())
    return report


def _set_fields(obj: Any, values: dict[str, Any]) -> list[str]:
    changed = [k for k, v in values.items() if getattr(obj, k) != v]
    for k in changed:
        setattr(obj, k, values[k])
    return changed


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _apply(doc: CatalogDocument, *, now: datetime, dry_run: bool, retire_missing: bool) -> ImportReport:
    report = ImportReport(dry_run=dry_run)
    for dprod in doc.products or []:
        _apply_product(dprod, report)
    for dp in doc.plans:
        _apply_plan(dp, report, now=now)
    in_doc = {dp.plan_id for dp in doc.plans}
    missing = Plan.objects.filter(status=PlanStatus.ACTIVE).exclude(plan_id__in=in_doc).order_by("pk")
    for plan in missing if retire_missing else []:
        plan.status = PlanStatus.RETIRED
        plan.save(update_fields=["status", "updated_at"])
        report.retired.append(f"plan:{plan.plan_id}")
    if doc.metered_services is not None:
        _apply_services(doc.metered_services, report, retire_missing=retire_missing)
    return report


def _apply_product(dprod: DocProduct, report: ImportReport) -> None:
    values = {"name": dprod.name, "description": dprod.description}
    product = Product.objects.filter(prod_id=dprod.prod_id).first()
    if product is None:
        product = Product.objects.create(prod_id=dprod.prod_id, **values)
        report.created.append(f"product:{product.prod_id}")
    elif _set_fields(product, values):
        product.save()
        report.updated.append(f"product:{product.prod_id}")
    for dc in dprod.components:
        cvalues = {"name": dc.name, "billing_mode": dc.billing_mode, "cycle": dc.cycle, "unit": dc.unit}
        component = Component.objects.filter(product=product, component_id=dc.component_id).first()
        if component is None:
            Component.objects.create(product=product, component_id=dc.component_id, **cvalues)
            report.created.append(f"component:{product.prod_id}/{dc.component_id}")
        elif _set_fields(component, cvalues):
            component.save()
            report.updated.append(f"component:{product.prod_id}/{dc.component_id}")


def _apply_plan(dp: DocPlan, report: ImportReport, *, now: datetime) -> None:
    product = Product.objects.get(prod_id=dp.prod_id) if dp.prod_id else None
    values = {
        "name": dp.name,
        "description": dp.description,
        "plan_type": dp.plan_type,
        "region": dp.region,
        "billing_mode": dp.billing_mode,
        "cycle": dp.cycle,
        "unit": dp.unit,
        "status": dp.status,
        "product": product,
    }
    plan = Plan.objects.filter(plan_id=dp.plan_id).first()
    plan_changed = False
    if plan is None:
        plan = Plan.objects.create(plan_id=dp.plan_id, **values)
        report.created.append(f"plan:{plan.plan_id}")
    else:
        changed = _set_fields(plan, values)
        if changed:
            plan.save()
            if "status" in changed and dp.status == PlanStatus.RETIRED:
                report.retired.append(f"plan:{plan.plan_id}")
            plan_changed = changed != ["status"] or dp.status == PlanStatus.ACTIVE

    # Price versions.
    existing = {pv.effective_from: pv for pv in plan.price_versions.all()}
    listed = set()
    for price in dp.prices:
        listed.add(price.effective_from)
        label = f"{plan.plan_id}@{_iso(price.effective_from)}"
        old = existing.get(price.effective_from)
        if old is None:
            PriceVersion.objects.create(plan=plan, price=price.price, effective_from=price.effective_from)
            report.new_versions.append(label)
        elif old.price != price.price:
            if old.first_used_at is not None:
                report.kept_used.append(label)
            else:
                old.price = price.price
                old.save(update_fields=["price"])
                plan_changed = True
    for start, old in existing.items():
        if start not in listed and old.first_used_at is None and start > now:
            old.delete()
            report.removed_versions.append(f"{plan.plan_id}@{_iso(start)}")

    # Component rules.
    components = {c.component_id: c for c in Component.objects.filter(product=product)} if product else {}
    rules = {
        (r.component.component_id, attrs_key(r.attrs), r.effective_from): r
        for r in plan.rules.select_related("component")
    }
    listed_rules = set()
    for rule in dp.rules:
        listed_rules.add(rule.key)
        label = f"{plan.plan_id}/{rule.component_id}{attrs_key(rule.attrs)}@{_iso(rule.effective_from)}"
        old_rule = rules.get(rule.key)
        if old_rule is None:
            PriceRule.objects.create(
                plan=plan,
                component=components[rule.component_id],
                attrs=rule.attrs,
                price=rule.price,
                effective_from=rule.effective_from,
            )
            report.new_versions.append(label)
        elif old_rule.price != rule.price:
            if old_rule.first_used_at is not None:
                report.kept_used.append(label)
            else:
                old_rule.price = rule.price
                old_rule.save(update_fields=["price"])
                plan_changed = True
    for key, old_rule in rules.items():
        if key not in listed_rules and old_rule.first_used_at is None and old_rule.effective_from > now:
            old_rule.delete()
            report.removed_versions.append(f"{plan.plan_id}/{key[0]}{key[1]}@{_iso(old_rule.effective_from)}")

    # Vehicle plan items: upserted, never deleted (orders refer to them).
    for di in dp.items:
        item = PlanItem.objects.filter(piid=di.piid).first()
        if item is None:
            PlanItem.objects.create(plan=plan, piid=di.piid, name=di.name, price=di.price)
            report.created.append(f"item:{di.piid}")
        elif _set_fields(item, {"name": di.name, "price": di.price}):
            item.save()
            report.updated.append(f"item:{di.piid}")

    if plan_changed:
        report.updated.append(f"plan:{plan.plan_id}")


def _apply_services(services: list[DocService], report: ImportReport, *, retire_missing: bool) -> None:
    listed = set()
    for ds in services:
        listed.add(ds.service)
        values = {
            "unit_price": ds.unit_price,
            "monthly_free_quota": ds.monthly_free_quota,
            "active": ds.active,
        }
        svc = MeteredService.objects.filter(service=ds.service).first()
        if svc is None:
            MeteredService.objects.create(service=ds.service, **values)
            report.created.append(f"service:{ds.service}")
        elif _set_fields(svc, values):
            svc.save()
            report.updated.append(f"service:{ds.service}")
    missing = MeteredService.objects.filter(active=True).exclude(service__in=listed)
    for svc in missing if retire_missing else []:
        svc.active = False
        svc.save(update_fields=["active"])
        report.retired.append(f"service:{svc.service}")


# --- export --------------------------------------------------------------------------------------


def catalog_export() -> dict[str, Any]:
    """The whole catalog in the plan-service format (API.md); importing it again changes nothing."""
    products = []
    for product in Product.objects.prefetch_related("components").order_by("prod_id"):
        products.append(
            {
                "prod_id": product.prod_id,
                "name": product.name,
                "description": product.description,
                "components": [
                    {
                        "component_id": c.component_id,
                        "name": c.name,
                        "billing_mode": c.billing_mode,
                        "cycle": c.cycle,
                        "unit": c.unit,
                    }
                    for c in sorted(product.components.all(), key=lambda c: c.component_id)
                ],
            }
        )
    plans = []
    for plan in Plan.objects.select_related("product").prefetch_related(
        "price_versions", "rules__component", "items"
    ):
        doc: dict[str, Any] = {
            "plan_id": plan.plan_id,
            "name": plan.name,
            "description": plan.description,
            "plan_type": plan.plan_type,
            "region": plan.region or None,
        }
        if plan.billing_mode:
            doc["billing_mode"] = plan.billing_mode
        if plan.cycle:
            doc["cycle"] = plan.cycle
        doc["unit"] = plan.unit
        doc["status"] = plan.status
        if plan.product:
            doc["prod_id"] = plan.product.prod_id
        versions = sorted(plan.price_versions.all(), key=lambda pv: pv.effective_from)
        if versions or not plan.product:
            doc["prices"] = [
                {"price": money4(pv.price), "effective_from": _iso(pv.effective_from)} for pv in versions
            ]
        rules = sorted(plan.rules.all(), key=lambda r: (r.component.component_id, r.effective_from, r.pk))
        if plan.product or rules:
            doc["rules"] = [
                {
                    "component_id": r.component.component_id,
                    "attrs": r.attrs or {},
                    "price": money4(r.price),
                    "effective_from": _iso(r.effective_from),
                }
                for r in rules
            ]
        items = sorted(plan.items.all(), key=lambda i: (i.name, str(i.piid)))
        if items:
            doc["items"] = [{"piid": str(i.piid), "name": i.name, "price": money4(i.price)} for i in items]
        plans.append(doc)
    services = [
        {
            "service": s.service,
            "unit_price": money4(s.unit_price),
            "monthly_free_quota": s.monthly_free_quota,
            "active": s.active,
        }
        for s in MeteredService.objects.order_by("service")
    ]
    return {"products": products, "plans": plans, "metered_services": services}
