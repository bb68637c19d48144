"""How fast an account consumes money at a moment (``GET /usageapi/v1/speed``;
docs/purchase-orders.md "Usage, reports, speed").

Every running subscription of the account counts, purchase orders and package instances alike,
at the price actually charged for the period containing ``at`` (issue 15: not the catalog price in
force at ``at``, which differs from the charge after a price change, a switch or a change of
configuration): for each paid charge record covering ``at`` (``period_start <= at < period_end``)
its amount divided by the hours of its period. A multi-cycle renewal is spread over all its cycles;
a ``change`` record (the prorated difference of a configuration change) adds the new rate for the
rest of the period. A subscription that had ended at ``at`` (a purchase order's ``end_time``, a
package instance's stop) does not count. Postpaid lines have no price per period (they are billed
after it by metered quantity) and hourly lines count only for an hour that was paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from config.money import to_money
from orders.engine.models import SubscriptionLine
from orders.package.models import InstanceStatus, PackageOrderEvent
from orders.purchase.models import PurchaseOrder
from usage.models import UsageKind, UsageRecord, UsageStatus

RATE_KINDS = (UsageKind.NEW, UsageKind.RENEW, UsageKind.SWITCH, UsageKind.HOURLY, UsageKind.CHANGE)


@dataclass(frozen=True)
class Speed:
    per_hour: Decimal
    per_day: Decimal
    orders: int  # subscriptions counted (purchase orders and package instances)


def _ended_before(subscription_ids: set[int], at: datetime) -> set[int]:
    """The subscriptions among ``subscription_ids`` that had ended at ``at``."""
    ended = set(
        PurchaseOrder.objects.filter(subscription_id__in=subscription_ids, end_time__lte=at).values_list(
            "subscription_id", flat=True
        )
    )
    ended |= set(
        PackageOrderEvent.objects.filter(
            instance__subscription_id__in=subscription_ids, to_status=InstanceStatus.STOPPED, at__lte=at
        ).values_list("instance__subscription_id", flat=True)
    )
    return ended


def account_speed(
    *, at: datetime, account_ids: Sequence[int] | None = None, subscription_ids: Sequence[int] | None = None
) -> Speed:
    """Money per hour and per day at ``at`` over the paid charge records covering it."""
    rates, counted = _rates(at=at, account_ids=account_ids, subscription_ids=subscription_ids)
    per_hour = sum(rates.values(), Decimal(0))
    return Speed(per_hour=to_money(per_hour), per_day=to_money(per_hour * 24), orders=len(counted))


def burn_per_day(account_ids: Sequence[int], at: datetime) -> dict[int, Decimal]:
    """``per_day`` of ``account_speed`` for each of many accounts in one pass (the same statements
    as one account): the burn rate billing's runway alerts use (``billing.alerts.hooks``)."""
    rates, _ = _rates(at=at, account_ids=account_ids, subscription_ids=None)
    return {account_id: to_money(per_hour * 24) for account_id, per_hour in rates.items()}


def _rates(
    *, at: datetime, account_ids: Sequence[int] | None, subscription_ids: Sequence[int] | None
) -> tuple[dict[int, Decimal], set[int]]:
    """Money per hour at ``at`` by account (unrounded), and the subscriptions counted."""
    qs = UsageRecord.objects.filter(
        status=UsageStatus.PAID, kind__in=RATE_KINDS, period_start__lte=at, period_end__gt=at
    )
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    rows = list(qs.values_list("account_id", "line_id", "amount", "period_start", "period_end"))
    wanted = None if subscription_ids is None else set(subscription_ids)
    line_subs = dict(
        SubscriptionLine.objects.filter(pk__in={r[1] for r in rows}).values_list("pk", "subscription_id")
    )
    counted = {sub for sub in line_subs.values() if wanted is None or sub in wanted}
    counted -= _ended_before(counted, at)
    rates: dict[int, Decimal] = {}
    for account_id, line_id, amount, start, end in rows:
        if line_subs.get(line_id) not in counted:
            continue
        hours = Decimal(int((end - start).total_seconds())) / Decimal(3600)
        if hours > 0:
            rates[account_id] = rates.get(account_id, Decimal(0)) + amount / hours
    return rates, counted
