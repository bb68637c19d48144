"""The catalog document once parsed (docs/plans.md "The catalog document"), and what an import
changed. Plain data: parsing fills it, checks and apply read it, export writes the same format."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from plans.selectors import attrs_key

if TYPE_CHECKING:
    from plans.catalog.promotions import DocPromotion


def iso_utc(dt: datetime) -> str:
    """A time as the document writes it: ISO 8601 in UTC with a ``Z``."""
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
    promotions: list[DocPromotion] | None = None  # None: the key was absent, leave promotions alone


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
