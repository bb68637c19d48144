"""What a package order is asked for: the products, instances and component changes that the API's
input serializers produce and the services, the quote and the previews take (their own module, so
the quote and the services both import it and not each other)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InstanceSpec:
    prod_inst_id_ext: str
    is_auto_renew: bool = False


@dataclass(frozen=True)
class ProductSpec:
    prod_id: str
    plan_id: str
    attrs: dict[str, Any]
    instances: list[InstanceSpec]
    prod_name: str = ""


@dataclass(frozen=True)
class ComponentChange:
    component_id: str
    attrs: dict[str, Any]
