"""A charged package order "i-1" with a metered "net" component on a funded account, and its meter
events: the set-up shared by the late-usage and void tests (issue 20, part 3)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from billing.models import Account
from billing.services import account_credit
from orders.package.metering import meter_events_ingest
from orders.package.services import package_order_charge
from tests.orders.package.factories import T0, create_order, funded_account, make_catalog


def charged_metered_account() -> Account:
    """Alice, funded with 1,000, with the order charged at ``T0``."""
    make_catalog()
    account = funded_account("alice", "0")
    account_credit(
        account_id=account.pk, amount=Decimal("1000"), idempotency_key="fund", subject=("test", "fund")
    )
    res = create_order(account, ext="i-1")
    package_order_charge(order_pk=res.order.pk, at=T0)
    return account


def event(eid: str, qty: str, ts: datetime) -> dict[str, Any]:
    return {
        "event_id": eid,
        "instance": "i-1",
        "component_id": "net",
        "quantity": qty,
        "timestamp": ts.isoformat(),
    }


def ingest(account: Account, *events: dict[str, Any], at: datetime) -> Any:
    return meter_events_ingest(account_id=account.pk, events=list(events), at=at)
