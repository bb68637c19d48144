"""Pieces the order admins share: the bills table (usage records of an order, local periods, money)
and the link to an order's ledger entries."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from config.display import UNIT_PRICE_PLACES, local_period, money_html
from usage.models import UsageRecord


def ledger_link(subject_id: str) -> SafeString:
    url = reverse("admin:billing_ledgerentry_changelist")
    return format_html(
        '<a href="{}?q={}" class="tally-ledger-link">Ledger entries of {}</a>', url, subject_id, subject_id
    )


def bills_table(records: list[UsageRecord], *, currency: str) -> SafeString:
    """The order's usage records: period (local), quantity, unit price (4 places), amount, status."""
    if not records:
        return format_html("<em>{}</em>", "no bills yet")
    total = sum((r.amount for r in records if r.status != "canceled"), start=type(records[0].amount)(0))
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td>{}</td><td>{}</td><td class="nowrap">{}</td><td class="num">{}</td>'
        '<td class="num">{}</td><td class="num">{}</td><td>{}</td><td>{}</td></tr>',
        (
            (
                r.pk,
                r.component_id or "-",
                r.get_kind_display(),
                local_period(r.period_start, r.period_end),
                f"{r.quantity.normalize():f}",
                money_html(r.unit_price, currency, places=UNIT_PRICE_PLACES),
                money_html(r.amount, currency),
                r.get_status_display(),
                _entry(r.ledger_entry_id),
            )
            for r in records
        ),
    )
    return format_html(
        '<table class="tally-table tally-bills"><thead><tr><th>id</th><th>component</th><th>kind</th>'
        '<th>period</th><th class="num">qty</th><th class="num">unit price</th><th class="num">amount</th>'
        "<th>status</th><th>ledger entry</th></tr></thead><tbody>{}"
        '<tr><th colspan="6">total (canceled excluded)</th><th class="num">{}</th><th colspan="2"></th></tr>'
        "</tbody></table>",
        rows,
        money_html(total, currency),
    )


def _entry(entry_id: Any) -> SafeString:
    if not entry_id:
        return format_html("{}", "-")
    url = reverse("admin:billing_ledgerentry_change", args=[entry_id])
    return format_html('<a href="{}">{}</a>', url, entry_id)
