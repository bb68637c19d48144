"""Order events as sentences for the back office: ``paid 10.00 CNY by finance, 08:24 CST``.

The order families record events with a reason (or kind), an optional status change, an actor and a
JSON ``data``; this turns any of them into one readable line without knowing the family: known
``data`` keys become words ("refunded 19.67 CNY", "paid until 2027-01-01 08:00 CST", "reason: ..."),
the rest is left out of the sentence (the detail page still lists them, see ``details``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from config.clock import local
from config.clock import now as clock_now
from config.display import local_time, money_words, short_time

# the verb of a reason or kind; anything else reads as itself with spaces ("config_changed")
VERBS = {
    "created": "created",
    "paid": "paid",
    "opened": "opened (postpaid)",
    "renewed": "renewed",
    "auto_renewed": "renewed automatically",
    "canceled": "canceled",
    "cancel": "canceled",
    "switched_from": "created by a plan switch",
    "switched": "switched plan",
    "renewal_failed": "renewal failed",
    "renewal_unpaid": "renewal unpaid",
    "hourly_paid": "paid the hour",
    "charged": "charged",
    "stopped": "stopped",
    "paused": "paused",
    "resumed": "resumed",
    "underwrite": "underwritten",
    "refund": "refunded",
    "pay": "paid",
    "placed": "placed",
    "take_effect": "took effect",
    "expire": "expired",
}
# money keys of ``data``: the word before the amount ("" = right after the verb)
MONEY_KEYS = (
    ("money", ""), ("amount", ""), ("charged", ""), ("net", "net"), ("cost", "cost"), ("payment", "payment"),
    ("summary", "total"),
    ("refund", "refunded"), ("refunded", "refunded"), ("credit", "credited"),
    ("postpaid_billed", "billed postpaid"),
)  # fmt: skip
TIME_KEYS = (
    ("period_end", "paid until"), ("until", "paid until"), ("deadline", "deadline"), ("start_at", "from"),
    ("stop_at", "until"),
)  # fmt: skip
TEXT_KEYS = (
    ("from", "from"), ("to", "to"), ("result", "result"), ("rule", "rule"), ("plan_id", "plan"),
    ("cycles", "cycles"),
)  # fmt: skip
REASON_KEYS = ("note", "reason")


@dataclass
class EventLine:
    at: datetime
    text: str
    reason: str = ""
    change: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _money_words_or_none(raw: Any, currency: str) -> str | None:
    if raw in (None, "", "0", "0.0000", 0):
        return None
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return money_words(value, currency) if value != 0 else None


def _moment_text(moment: datetime, today: date | None) -> str:
    today = today or local(clock_now()).date()
    return short_time(moment) if local(moment).date() == today else local_time(moment)


def _time(raw: Any) -> str | None:
    try:
        moment = parse_datetime(str(raw)) if raw else None
    except ValueError:
        moment = None
    return local_time(moment) if moment is not None and moment.tzinfo is not None else None


def event_line(
    *,
    reason: str,
    at: datetime,
    actor: Any,
    data: dict[str, Any] | None,
    currency: str,
    from_label: str = "",
    to_label: str = "",
    today: date | None = None,
) -> EventLine:
    """One event as a sentence: verb, money, dates, who, when; the reason given and the status change
    apart (the page shows them after the sentence)."""
    data = dict(data or {})
    verb = VERBS.get(reason, reason.replace("_", " ") or "changed")
    words = [verb]
    extras: list[str] = []
    for key, word in MONEY_KEYS:
        amount = _money_words_or_none(data.get(key), currency)
        if amount is not None:
            (words if not word and len(words) == 1 else extras).append(f"{word} {amount}".strip())
    for key, word in TIME_KEYS:
        shown = _time(data.get(key))
        if shown is not None:
            extras.append(f"{word} {shown}")
    for key, word in TEXT_KEYS:
        if data.get(key) not in (None, ""):
            extras.append(f"{word} {data[key]}")
    head = " ".join(words) + (", " + ", ".join(extras) if extras else "")
    who = getattr(actor, "username", None) or (str(actor) if actor else "the system")
    text = f"{head} by {who}, {_moment_text(at, today)}"
    given = next((str(data[k]) for k in REASON_KEYS if data.get(k)), "")
    change = f"{from_label} → {to_label}" if to_label and from_label != to_label else ""
    if change and not from_label:
        change = f"now {to_label}"
    return EventLine(at=at, text=text, reason=given, change=change, details=data)


def events_html(lines: list[EventLine], *, css_id: str = "order-events") -> SafeString:
    """The order's history: oldest first, one sentence a line, the reason quoted, the change muted."""
    if not lines:
        return format_html("<em>{}</em>", "no events")
    items = format_html_join(
        "",
        '<li class="tally-event">{}{}{}</li>',
        (
            (
                line.text,
                format_html(" — reason: “{}”", line.reason) if line.reason else "",
                format_html(' <span class="tally-event-change">({})</span>', line.change)
                if line.change
                else "",
            )
            for line in lines
        ),
    )
    return format_html('<ol class="tally-events" id="{}">{}</ol>', css_id, items)
