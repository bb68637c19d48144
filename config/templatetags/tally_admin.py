"""Template tags of the back office (registered as the ``tally_admin`` library in settings).

``tally_date_hierarchy``: Django's date hierarchy, but the years, months and days it offers are found
with ONE query of index probes over exact local-midnight boundaries of ``TALLY_TIME_ZONE`` instead
of ``QuerySet.datetimes()`` (which truncates in the database: ``CONVERT_TZ`` is NULL on a MariaDB
without time zone tables, and the hierarchy came out empty). Filtering by the chosen year/month/day
is Django's own (range lookups on local boundaries).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy as django_date_hierarchy
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import DateTimeField, Exists, Max, Min
from django.utils import formats
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from config.clock import local, local_tz

register = template.Library()
MAX_YEARS = 30


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=local_tz())


# Bounds compiled into the probe statement once and replaced by each bucket's own (DATETIME's range
# starts at year 1000 on MariaDB; no list holds rows this old).
_PROBE_FROM = dt.datetime(1001, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
_PROBE_TO = dt.datetime(1001, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def present(queryset: Any, field: str, starts: list[dt.date], end: dt.date) -> list[dt.date]:
    """The bucket starts (local dates) of ``[starts[i], starts[i+1])`` (last one up to ``end``) that
    hold at least one row: ONE query of an ``EXISTS`` per bucket, each an index probe that stops at
    the first row (a filtered count per bucket read every row of a million-row list: B8). The probe
    is compiled by the ORM once, with two marker bounds, and its SQL repeated with each bucket's
    bounds as parameters (compiling ~30 ``Exists`` expressions was most of the month view's CPU)."""
    bounds = [_midnight(day) for day in [*starts, end]]
    pairs = list(zip(bounds, bounds[1:], strict=False))
    if not pairs:
        return []
    found = _probe_sql(queryset, field, pairs)
    if found is None:  # the markers could not be placed: one ORM-compiled probe per bucket
        found = _probe_orm(queryset, field, pairs)
    return [start for start, hit in zip(starts, found, strict=False) if hit]


def _probe_sql(queryset: Any, field: str, pairs: list[tuple[dt.datetime, dt.datetime]]) -> list[bool] | None:
    connection = connections[queryset.db]
    model_field = get_fields_from_path(queryset.model, field)[-1]
    probe = queryset.filter(**{f"{field}__gte": _PROBE_FROM, f"{field}__lt": _PROBE_TO}).order_by()
    try:
        sql, params = probe.values("pk")[:1].query.get_compiler(using=queryset.db).as_sql()
    except EmptyResultSet:  # ``.none()`` or an empty ``__in``: no bucket holds a row
        return [False] * len(pairs)
    marks = [model_field.get_db_prep_value(v, connection) for v in (_PROBE_FROM, _PROBE_TO)]
    at = [[i for i, p in enumerate(params) if p == mark] for mark in marks]
    if any(len(positions) != 1 for positions in at):
        return None
    (low,), (high,) = at
    args: list[Any] = []
    for a, b in pairs:
        one = list(params)
        one[low], one[high] = (model_field.get_db_prep_value(v, connection) for v in (a, b))
        args += one
    columns = ", ".join(f"EXISTS({sql})" for _ in pairs)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}", args)  # noqa: S608 (the ORM's own SQL; values are parameters)
        row = cursor.fetchone()
    return [bool(v) for v in row]


def _probe_orm(queryset: Any, field: str, pairs: list[tuple[dt.datetime, dt.datetime]]) -> list[bool]:
    probes = {
        f"b{i}": Exists(queryset.filter(**{f"{field}__gte": a, f"{field}__lt": b}).order_by())
        for i, (a, b) in enumerate(pairs)
    }
    row = queryset.model._default_manager.order_by().annotate(**probes).values(*probes)[:1]
    found = next(iter(row), None)
    return [bool(found and found[f"b{i}"]) for i in range(len(pairs))]


def _months(year: int) -> list[dt.date]:
    return [dt.date(year, m, 1) for m in range(1, 13)]


def _days(year: int, month: int) -> list[dt.date]:
    first = dt.date(year, month, 1)
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return [first + dt.timedelta(days=n) for n in range((following - first).days)]


@register.inclusion_tag("admin/date_hierarchy.html")
def tally_date_hierarchy(cl: Any) -> dict[str, Any] | None:
    field_name = cl.date_hierarchy
    field = get_fields_from_path(cl.model, field_name)[-1]
    if not isinstance(field, DateTimeField):
        return django_date_hierarchy(cl)  # type: ignore[no-any-return]
    names = tuple(f"{field_name}__{p}" for p in ("year", "month", "day"))
    year, month, day = _chosen_date(cl, field_name, names)

    def link(filters: dict[str, Any]) -> str:
        return str(cl.get_query_string(filters, [f"{field_name}__"]))

    if year and month and day:
        return _one_day(link, names, dt.date(year, month, day))
    if year and month:
        return _days_of_month(cl, field_name, link, names, year, month)
    if year:
        return _months_of_year(cl, field_name, link, names, year)
    return _years(cl, field_name, link, names)


Link = Callable[[dict[str, Any]], str]


def _chosen_date(cl: Any, field_name: str, names: tuple[str, ...]) -> tuple[int | None, ...]:
    """The year, month and day filtered on; with none, the year (and month) every row falls in."""
    year, month, day = (
        int(v[-1] if isinstance(v, list) else v) if v else None for v in (cl.params.get(n) for n in names)
    )
    if not (year or month or day):
        span = cl.queryset.aggregate(first=Min(field_name), last=Max(field_name))
        if span["first"] and span["last"]:
            first, last = local(span["first"]), local(span["last"])
            if first.year == last.year:
                year = first.year
                if first.month == last.month:
                    month = first.month
    return year, month, day


def _one_day(link: Link, names: tuple[str, ...], chosen: dt.date) -> dict[str, Any]:
    year_field, month_field, _day_field = names
    return {
        "show": True,
        "back": {
            "link": link({year_field: chosen.year, month_field: chosen.month}),
            "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
        },
        "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
    }


def _days_of_month(
    cl: Any, field_name: str, link: Link, names: tuple[str, ...], year: int, month: int
) -> dict[str, Any]:
    year_field, month_field, day_field = names
    days = _days(year, month)
    found = present(cl.queryset, field_name, days, days[-1] + dt.timedelta(days=1))
    return {
        "show": True,
        "back": {"link": link({year_field: year}), "title": str(year)},
        "choices": [
            {
                "link": link({year_field: year, month_field: month, day_field: d.day}),
                "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
            }
            for d in found
        ],
    }


def _months_of_year(
    cl: Any, field_name: str, link: Link, names: tuple[str, ...], year: int
) -> dict[str, Any]:
    year_field, month_field, _day_field = names
    found = present(cl.queryset, field_name, _months(year), dt.date(year + 1, 1, 1))
    return {
        "show": True,
        "back": {"link": link({}), "title": _("All dates")},
        "choices": [
            {
                "link": link({year_field: year, month_field: m.month}),
                "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT")),
            }
            for m in found
        ],
    }


def _years(cl: Any, field_name: str, link: Link, names: tuple[str, ...]) -> dict[str, Any]:
    year_field = names[0]
    span = cl.queryset.aggregate(first=Min(field_name), last=Max(field_name))
    if not span["first"]:
        return {"show": True, "back": None, "choices": []}
    first_year, last_year = local(span["first"]).year, local(span["last"]).year
    years = [dt.date(y, 1, 1) for y in range(max(first_year, last_year - MAX_YEARS + 1), last_year + 1)]
    found = present(cl.queryset, field_name, years, dt.date(last_year + 1, 1, 1))
    return {
        "show": True,
        "back": None,
        "choices": [{"link": link({year_field: y.year}), "title": str(y.year)} for y in found],
    }
