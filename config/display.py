"""How the back office shows money and time: the one formatting helper (admin lists, detail pages,
the dashboard, CSV headers).

- Money: the currency first, thousands separators, two places (four for unit prices), rounded
  half-up like the API: ``CNY 1,683.70``, ``CNY -12.50``. In HTML the amount is a
  ``<span class="tally-money">`` (right-aligned, tabular digits by the admin's stylesheet) and a
  negative amount also carries ``tally-negative`` (red). Amounts stay ``Decimal`` throughout.
- Time: stored in UTC, shown in ``TALLY_TIME_ZONE`` with the zone named: ``2026-12-01 16:24 CST``.
  The admin activates that zone for its requests (``config.admin_time.AdminLocalTimeMiddleware``)
  so Django's own fields read the same way (``DATETIME_FORMAT`` in ``config/formats/en``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import SafeString

from config.clock import local

UNIT_PRICE_PLACES = 4


def money_text(
    amount: Decimal | int | str | None, currency: str | None = None, *, places: int | None = None
) -> str:
    """``CNY 1,683.70``; ``-`` for no amount. Never converts through float.

    ``places`` None: two places, or four when the amount has sub-cent digits (a 0.0042 quota charge
    never reads as 0.00); unit prices pass 4."""
    if amount is None or amount == "":
        return "-"
    if isinstance(amount, float):
        raise TypeError("money must never be a float")
    if places is None:
        exact = Decimal(amount)
        places = 2 if exact == exact.quantize(Decimal("0.01")) else 4
    quantum = Decimal(1).scaleb(-places)
    value = Decimal(amount).quantize(quantum, rounding=ROUND_HALF_UP)
    if value == 0:
        value = abs(value)  # no "-0.00"
    return f"{currency or settings.TALLY_CURRENCY} {value:,.{places}f}"


def money_words(
    amount: Decimal | int | str, currency: str | None = None, *, places: int | None = None
) -> str:
    """``10.00 CNY``: the amount inside a sentence ("paid 10.00 CNY by finance"); same rounding."""
    code, _, number = money_text(amount, currency, places=places).partition(" ")
    return f"{number} {code}"


def money_html(
    amount: Decimal | int | str | None, currency: str | None = None, *, places: int | None = None
) -> SafeString:
    """The HTML form of :func:`money_text`: right-aligned, red when negative."""
    negative = amount not in (None, "") and Decimal(amount) < 0  # type: ignore[arg-type]
    css = "tally-money tally-negative" if negative else "tally-money"
    return format_html('<span class="{}">{}</span>', css, money_text(amount, currency, places=places))


def zone_name(moment: datetime) -> str:
    """The zone's short name at that moment (``CST`` for Asia/Shanghai; ``+04`` where there is none)."""
    return local(moment).strftime("%Z") or settings.TALLY_TIME_ZONE


def local_time(moment: datetime | None, *, seconds: bool = False) -> str:
    """``2026-12-01 16:24 CST``: the moment in ``TALLY_TIME_ZONE``, the zone named; ``-`` for none."""
    if moment is None:
        return "-"
    if not isinstance(moment, datetime):
        return f"{moment:%Y-%m-%d}" if isinstance(moment, date) else str(moment)
    shown = local(moment)
    clock = f"{shown:%H:%M:%S}" if seconds else f"{shown:%H:%M}"
    return f"{shown:%Y-%m-%d} {clock} {zone_name(moment)}"


def short_time(moment: datetime) -> str:
    """``08:24 CST``: for sentences about today's events."""
    return f"{local(moment):%H:%M} {zone_name(moment)}"


def local_period(start: datetime | None, end: datetime | None) -> str:
    """A bill period: ``2026-12-01 08:00 – 09:00 CST`` within a day, else both dates in full."""
    if start is None or end is None:
        return local_time(start or end)
    first, last = local(start), local(end)
    if first.date() == last.date():
        return f"{first:%Y-%m-%d %H:%M} – {last:%H:%M} {zone_name(end)}"
    return f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M} {zone_name(end)}"


def csv_time(moment: datetime) -> str:
    """A CSV cell: the local wall time (``2026-12-01 16:24:29``); the header names the zone."""
    return f"{local(moment):%Y-%m-%d %H:%M:%S}"


def currency_of(obj: Any) -> str:
    """The currency of a row without a query: its own ``currency`` field, or its already-loaded
    account's (``list_select_related``), else the house currency."""
    own = getattr(obj, "currency", None)
    if isinstance(own, str) and own:
        return own
    cache: dict[str, Any] = getattr(getattr(obj, "_state", None), "fields_cache", None) or {}
    theirs = getattr(cache.get("account"), "currency", None)
    if isinstance(theirs, str) and theirs:
        return theirs
    return str(settings.TALLY_CURRENCY)


def money_column(
    field: str,
    description: str | None = None,
    *,
    places: int | None = None,
    currency: Callable[[Any], str] = currency_of,
    ordering: str | None = None,
) -> Callable[[Any], SafeString]:
    """An admin ``list_display`` / ``readonly_fields`` entry for a money field.

    The cell is ``CNY 1,683.70`` right-aligned (red when negative); the CSV export takes the exact
    ``Decimal`` of ``field`` instead (``csv_field``) and names the currency in the header.
    """

    def column(obj: Any) -> SafeString:
        value = obj
        for part in field.split("__"):
            value = getattr(value, part, None) if value is not None else None
        return money_html(value, currency(obj), places=places)

    label = description or field.rsplit("__", 1)[-1].replace("_", " ")
    column.short_description = label  # type: ignore[attr-defined]
    column.admin_order_field = ordering or field  # type: ignore[attr-defined]
    column.csv_field = field  # type: ignore[attr-defined]
    column.is_money = True  # type: ignore[attr-defined]
    column.__name__ = f"{field}_money"
    column.__qualname__ = column.__name__
    return column


UNIT_PRICE_NAMES = ("unit_price", "price")
MONEY_SUFFIXES = (
    "amount",
    "balance",
    "balance_after",
    "price",
    "cost",
    "payable",
    "owed",
    "payment",
    "summary",
)


def is_money_field(field: Any) -> bool:
    """A model field holding money: a ``DecimalField`` named like money (``amount``, ``balance_after``,
    ``unit_price``, ``cost``, ``amount_payable``, ``total_charges``...); quantities are not money."""
    from django.db.models import DecimalField

    if not isinstance(field, DecimalField):
        return False
    name = field.name
    return name.endswith(MONEY_SUFFIXES) or name.startswith("total_")


class MoneyDetailMixin:
    """Detail pages (and inlines) show read-only money fields like money: each money field shown
    read-only is swapped for a :func:`money_column` (``CNY 1,683.70``, right-aligned, red when
    negative; unit prices with four places). Editable fields stay form fields."""

    def _money_columns(self) -> dict[str, Any]:
        cache: dict[str, Any] | None = self.__dict__.get("_tally_money_columns")
        if cache is None:
            cache = {}
            for field in self.model._meta.concrete_fields:  # type: ignore[attr-defined]
                if is_money_field(field):
                    places = 4 if field.name in UNIT_PRICE_NAMES else None
                    column = money_column(field.name, field.verbose_name, places=places)
                    cache[field.name] = column
            self.__dict__["_tally_money_columns"] = cache
        return cache

    def _swap(self, names: Any, readonly: set[Any] | None) -> list[Any]:
        columns = self._money_columns()

        def one(n: Any) -> Any:
            if isinstance(n, list | tuple):
                return tuple(one(m) for m in n)
            if isinstance(n, str) and n in columns and (readonly is None or n in readonly):
                return columns[n]
            return n

        return [one(n) for n in names]

    def _shown_readonly(self, request: Any, obj: Any) -> set[Any] | None:
        """None: everything is read-only on this page (no change permission)."""
        if obj is not None and not self.has_change_permission(request, obj):  # type: ignore[attr-defined]
            return None
        return set(super().get_readonly_fields(request, obj))  # type: ignore[misc]

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        """The swapped columns, and the field names as well: a read-only name must stay out of the
        model form (a superuser must never get ``cost`` as an input because it is shown as money)."""
        fields = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        swapped = self._swap(fields, set(fields))
        return [*swapped, *[f for f in fields if f not in swapped]]

    def get_fieldsets(self, request: Any, obj: Any = None) -> Any:
        readonly = self._shown_readonly(request, obj)
        seen: set[Any] = set()
        fieldsets = []
        for name, options in super().get_fieldsets(request, obj):  # type: ignore[misc]
            fields = []
            for entry in self._swap(options.get("fields", ()), readonly):
                if isinstance(entry, tuple) or entry not in seen:
                    fields.append(entry)
                    seen.add(entry)
            fieldsets.append((name, {**options, "fields": fields}))
        return fieldsets
