"""``POST /api/v1/meter-events/void``: void meter events of one account (issue 20, part 3;
docs/package-orders.md, "Late and voided events").

All or nothing: an id that names no event of the account refuses the call (3408, ``data.errors``
naming ``event_ids[i]``) and nothing is voided. An event already voided is counted, not voided
again (``voided_at`` is set once). A voided event that no record billed yet is simply left out of
every billing; one that was billed is refunded by a negative correction of its period
(``orders.engine.corrections.correction_write``), one per period and call, keyed by the first
event voided (``c:<record>:v<event id>``), so a replay moves no money.

Locks: the account, then the events' lines (primary-key order: a batch being ingested holds its
lines shared, so its duplicate checks never wait on the events locked here), then the events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.locks import account_lock
from config.db import retry_on_conflict
from config.money import to_money
from orders.engine.corrections import correction_key, correction_write
from orders.engine.models import SubscriptionLine
from orders.package.errors import MeterEventsRefused
from usage.models import MeterEvent, UsageRecord


@dataclass
class VoidResult:
    voided: int = 0
    already_voided: int = 0
    refunded: Decimal = Decimal(0)
    corrections: list[dict[str, Any]] = field(default_factory=list)


@retry_on_conflict
def meter_events_void(*, account_id: int, event_ids: list[str], at: datetime | None = None) -> VoidResult:
    """Void the account's events named by ``event_ids``; refund the billed ones. Raises
    ``MeterEventsRefused`` (nothing voided) when an id is unknown."""
    at = at or timezone.now()
    wanted = list(dict.fromkeys(event_ids))
    result = VoidResult()
    with transaction.atomic():
        account_lock(account_id)
        lines_of = dict(
            MeterEvent.objects.filter(account_id=account_id, event_id__in=wanted).values_list(
                "event_id", "line_id"
            )
        )
        unknown = {
            f"event_ids[{i}]": [f"no meter event {eid!r} in this namespace"]
            for i, eid in enumerate(event_ids)
            if eid not in lines_of
        }
        if unknown:
            raise MeterEventsRefused(
                f"{len(unknown)} unknown event id(s); nothing was voided", errors=unknown
            )
        lines = {
            line.pk: line
            for line in SubscriptionLine.objects.select_for_update()
            .select_related("subscription")
            .filter(pk__in=set(lines_of.values()))
            .order_by("pk")
        }
        events = list(
            MeterEvent.objects.select_for_update()
            .filter(account_id=account_id, event_id__in=wanted)
            .order_by("pk")
        )
        fresh = [e for e in events if e.voided_at is None]
        result.already_voided = len(events) - len(fresh)
        result.voided = MeterEvent.objects.filter(
            pk__in=[e.pk for e in fresh], voided_at__isnull=True
        ).update(voided_at=at)
        for original, batch in _billed_by_period(
            [e for e in fresh if e.billed_record_id is not None]
        ).items():
            record, created = correction_write(
                line=lines[original.line_id],
                original=original,
                delta=-to_money(sum((e.quantity for e in batch), Decimal(0))),
                key=correction_key(
                    original_id=original.pk, cause="v", first_event_id=min(e.pk for e in batch)
                ),
                at=at,
            )
            if created:
                result.refunded += -record.amount
            result.corrections.append(
                {
                    "id": record.pk,
                    "corrects": original.pk,
                    "quantity": record.quantity,
                    "amount": record.amount,
                }
            )
    return result


def _billed_by_period(events: list[MeterEvent]) -> dict[UsageRecord, list[MeterEvent]]:
    """Billed events by the period record their billing corrects (a late event's record is a
    correction: its ``corrects``)."""
    records = UsageRecord.objects.select_related("corrects").in_bulk({e.billed_record_id for e in events})
    groups: dict[UsageRecord, list[MeterEvent]] = {}
    for event in events:
        record = records[event.billed_record_id]  # type: ignore[index]
        groups.setdefault(record.corrects or record, []).append(event)
    return groups
