"""Changelists that stay fast at a million rows: the ledger, usage records and purchase orders.

Measured with ``bench/b8_admin_lists.py`` (docs/benchmarks.md, B8). Django's defaults cost, per
page of such a list: two ``COUNT(*)`` over the table (the filtered count and the full count), a
join with the account table that makes MariaDB read every row into a temporary table and sort it
(it drives the join from the 1,000-row side), and ``LIKE '%term%'`` over four columns for a search.
``BigListAdminMixin`` replaces each with a bounded query:

- the count stops at ``COUNT_CAP`` rows (``SELECT COUNT(*) FROM (... LIMIT cap + 1)``) and the list
  says "more than 10,000"; the full count is not shown (``show_full_result_count``). Narrow the list
  by month, account or status to page through older rows;
- a page reads its primary keys from the ordering index, then only its own rows;
- the list query never joins: the page's accounts (``list_prefetch_related``) come in one
  ``IN`` query after the page, so the ordering index answers ``ORDER BY ... LIMIT`` directly;
- search matches identifiers exactly (``exact_search_fields``): a term that is an account's
  namespace lists that account's rows through the account index, anything else is compared with
  the other identifier columns (equal, or by prefix: ``^order_id``), each of which has an index.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib.admin import helpers
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

COUNT_CAP = 10_000
NAMESPACE_LOOKUP = "account__namespace"


class CappedCountPaginator(Paginator):
    """A paginator whose count stops at ``COUNT_CAP + 1``: pages up to the cap, no table scan."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            return self.object_list[: self.cap + 1].count()
        return len(self.object_list)

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    def page(self, number: Any) -> Page:
        """The page's primary keys first, from the ordering index (an ``OFFSET`` over index entries,
        not over whole rows), then those rows alone, in the same order (a deferred join)."""
        if not isinstance(self.object_list, QuerySet):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        pks = list(self.object_list.prefetch_related(None).values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=pks)}
        return self._get_page([rows[pk] for pk in pks], number, self)  # type: ignore[attr-defined]


class BigListAdminMixin:
    """For a ``ModelAdmin`` of a table that grows to millions of rows (see the module docstring)."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    list_select_related: Any = ()  # not False: False makes Django join every foreign key it lists
    list_prefetch_related: tuple[str, ...] = ("account",)
    exact_search_fields: tuple[str, ...] = ()

    def action_checkbox(self, obj: Any) -> SafeString:
        """Django's row checkbox, written out: Django renders it through the form template engine,
        which was a third of a page's time (1.5 ms a row, B8's profile)."""
        label = format_html(_("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        return queryset.prefetch_related(*self.list_prefetch_related)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return self.exact_search_fields  # shows the search box; the matching is get_search_results'

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        others = [f for f in self.exact_search_fields if f != NAMESPACE_LOOKUP]
        if NAMESPACE_LOOKUP in self.exact_search_fields:
            accounts = queryset.model._meta.get_field("account").related_model._default_manager
            account_ids = list(accounts.filter(namespace=term).values_list("pk", flat=True)[:1])
            if account_ids or not others:
                return queryset.filter(account_id__in=account_ids), False
        match = Q()
        for lookup in others:
            match |= self.search_condition(lookup, term)
        return queryset.filter(match), False

    def search_condition(self, lookup: str, term: str) -> Q:
        """The condition of one identifier column: equal, or with ``^`` (Django's own prefix
        notation) starting with the term, which the column's index answers as a range; override
        where the index needs more."""
        if lookup.startswith("^"):
            return Q(**{f"{lookup[1:]}__istartswith": term})
        return Q(**{lookup: term})
