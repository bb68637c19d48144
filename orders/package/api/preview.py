"""The answers of the package-order previews (``drytry=1``, ``orders.package.previews``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer

from config.money import money4
from orders.package.api.serializers import OperationOutSerializer, PreviewOutSerializer
from orders.package.previews import InstanceState
from orders.package.quote import ChangeQuote, CreateQuote, RenewQuote

OPERATION_OR_PREVIEW = PolymorphicProxySerializer(
    component_name="PackageOperationOrPreview",
    serializers=[OperationOutSerializer, PreviewOutSerializer],
    resource_type_field_name=None,
)


def _dt(value: datetime) -> str:
    return value.isoformat()  # as the package API renders its other datetimes


def create_preview_repr(quote: CreateQuote) -> dict[str, Any]:
    return {
        "drytry": True,
        "order_id": None,
        "order_status": "unpaid",
        "cost": money4(quote.total),
        "amount_payable": money4(quote.total),
        "components": [
            {
                "prod_inst_id_ext": c.prod_inst_id_ext,
                "component_id": c.cost.component_id,
                "billing_mode": c.cost.billing_mode,
                "cycle": c.cycle,
                "unit_price": money4(c.cost.price),
                "amount": money4(c.amount),
            }
            for c in quote.components
        ],
    }


def renew_preview_repr(state: InstanceState, quote: RenewQuote) -> dict[str, Any]:
    return {
        "drytry": True,
        "order_id": state.order.order_id,
        "order_status": state.order.status,
        "prod_inst_id_ext": state.instance.prod_inst_id_ext,
        "cost": money4(quote.total),
        "amount_payable": money4(quote.total),
        "cycles": quote.cycles,
        "period_start": _dt(quote.start),
        "paid_until": _dt(quote.end),
        "components": [
            {
                "component_id": rl.line.component_id,
                "unit_price": money4(rl.cost.price),
                "quantity": money4(Decimal(quote.cycles)),
                "amount": money4(rl.amount),
            }
            for rl in quote.lines
        ],
    }


def change_preview_repr(state: InstanceState, quote: ChangeQuote) -> dict[str, Any]:
    return {
        "drytry": True,
        "order_id": state.order.order_id,
        "order_status": state.order.status,
        "prod_inst_id_ext": state.instance.prod_inst_id_ext,
        "plan_id": quote.plan.plan_id,
        "cost": money4(quote.net),
        "amount_payable": money4(max(quote.net, Decimal(0))),
        "refund": money4(max(-quote.net, Decimal(0))),
        "components": [
            {
                "component_id": c.line.component_id,
                "billing_mode": c.line.billing_mode,
                "old_price": money4(c.before.price),
                "new_price": money4(c.after.price),
                "quantity": money4(c.fraction),
                "amount": money4(c.amount or Decimal(0)),
            }
            for c in quote.lines
        ],
    }
