"""A purchase order's side in the engine: its id, its subscription line (open, schedule, stop) and
the last bills of a postpaid line being stopped.

Create, switch, cancel and the renewal engine all go through these, so a line is opened,
scheduled and stopped the same way whichever operation touches it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from orders.engine.billing import line_bill_metered_period, next_period
from orders.engine.models import (
    LineStatus,
    Subscription,
    SubscriptionKind,
    SubscriptionLine,
    SubscriptionStatus,
)
from orders.purchase.models import PurchaseOrder
from orders.purchase.quote import order_line
from plans.models import BillingMode, Cycle, Plan

MAX_CATCH_UP_PERIODS = 48


def new_order_id(at: datetime | None = None) -> str:
    """``PO`` + UTC time to the microsecond + 6 random hex: unique and sortable by creation."""
    at = at or timezone.now()
    return "PO" + at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f") + secrets.token_hex(3)


def renewal_lead(cycle: str) -> timedelta:
    """``RENEWAL_LEAD``, but never more than one cycle (a daily plan is renewed a day ahead)."""
    one = {Cycle.HOUR: timedelta(hours=1), Cycle.DAY: timedelta(days=1)}.get(Cycle(cycle))
    lead: timedelta = settings.RENEWAL_LEAD
    return min(lead, one) if one else lead


def subscription_open(
    *, account_id: int, order_id: str, plan: Plan, price: Decimal, qty: int, at: datetime, params: dict
) -> SubscriptionLine:
    """The subscription (anchored at ``at``) and its one running line for a new order."""
    sub = Subscription.objects.create(
        account_id=account_id,
        kind=SubscriptionKind.PURCHASE,
        order_ref=order_id,
        status=SubscriptionStatus.BILLING,
        anchor=at,
    )
    return SubscriptionLine.objects.create(
        subscription=sub,
        plan=plan,
        billing_mode=plan.billing_mode,
        cycle=plan.cycle,
        attrs=params,
        quantity=Decimal(qty),
        price=price,
        status=LineStatus.RUNNING,
    )


def line_schedule_after_paid(line: SubscriptionLine, paid_until: datetime) -> None:
    """When the engine looks at the line next: prepaid one lead before the end, else at the end."""
    if line.billing_mode == BillingMode.PREPAID:
        line.next_run_at = paid_until - renewal_lead(line.cycle)
    else:
        line.next_run_at = paid_until
    line.save(update_fields=["next_run_at", "updated_at"])


def subscription_stop(order: PurchaseOrder) -> None:
    line = order_line(order)
    if line is None:
        return
    SubscriptionLine.objects.filter(pk=line.pk).update(status=LineStatus.STOPPED, next_run_at=None)
    Subscription.objects.filter(pk=line.subscription_id).update(status=SubscriptionStatus.ENDED)


def line_bill_postpaid_until(*, line: SubscriptionLine, order: PurchaseOrder, at: datetime) -> None:
    """Bill the ended cycles and the last, partial one of a postpaid line being stopped (metered
    quantity x unit price; a short balance leaves the record in ``arrears``, as the jobs runner does)."""
    subject = ("purchase_order", order.order_id)
    for _ in range(MAX_CATCH_UP_PERIODS):
        line.refresh_from_db()
        if next_period(line).end > at:
            break
        line_bill_metered_period(line_id=line.pk, at=at, subject=subject, region=order.region)
    line.refresh_from_db()
    if next_period(line).start < at:
        line_bill_metered_period(line_id=line.pk, at=at, final_end=at, subject=subject, region=order.region)
