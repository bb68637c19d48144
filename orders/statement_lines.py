"""The usage-record detail of statement lines, registered with billing (``billing.statements.hooks``).

Billing groups a month's ledger entries into lines by subject (an order); this says, per line,
which usage records those entries paid: instance, component, kind, unit price, the periods covered
(first start, last end), how many records and their quantity and amount. One GROUP BY over the
records joined to their ledger entries, plus one lookup of the instances' names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min

from config.money_sql import ExactMoneySum
from orders.models import SubscriptionLine
from usage.models import UsageRecord


def statement_line_details(
    account_ids: Sequence[int], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    rows = list(
        UsageRecord.objects.filter(
            ledger_entry__account_id__in=list(account_ids),
            ledger_entry__created_at__gte=start,
            ledger_entry__created_at__lt=end,
        )
        .values(
            "ledger_entry__account_id",
            "ledger_entry__kind",
            "ledger_entry__subject_type",
            "ledger_entry__subject_id",
            "order_ref",
            "line_id",
            "component_id",
            "kind",
            "unit_price",
        )
        .annotate(
            records=Count("id"),
            quantity_sum=ExactMoneySum("quantity"),
            amount_sum=ExactMoneySum("amount"),
            first_start=Min("period_start"),
            last_end=Max("period_end"),
        )
        .order_by("ledger_entry__account_id", "order_ref", "line_id", "first_start")
    )
    names = _instance_names({r["line_id"] for r in rows})
    return [
        {
            "account_id": r["ledger_entry__account_id"],
            "entry_kind": r["ledger_entry__kind"],
            "subject_type": r["ledger_entry__subject_type"],
            "subject_id": r["ledger_entry__subject_id"],
            "order": r["order_ref"],
            "instance": names.get(r["line_id"], ""),
            "component": r["component_id"],
            "usage_kind": r["kind"],
            "period_start": r["first_start"],
            "period_end": r["last_end"],
            "records": r["records"],
            "quantity": r["quantity_sum"],
            "unit_price": r["unit_price"],
            "amount": r["amount_sum"],
        }
        for r in rows
    ]


def _instance_names(line_ids: set[int]) -> dict[int, str]:
    """line id -> the package instance id, or the purchase order's resource name."""
    if not line_ids:
        return {}
    rows = SubscriptionLine.objects.filter(pk__in=line_ids).values_list(
        "pk",
        "subscription__product_instance__prod_inst_id_ext",
        "subscription__purchase_order__resource_name",
    )
    return {pk: inst or resource or "" for pk, inst, resource in rows}
