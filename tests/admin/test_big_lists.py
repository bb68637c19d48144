"""The lists that grow to millions of rows (config/admin_lists.py): bounded counts, pages in the
model's order without a join, exact identifier search, one query for the date hierarchy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.admin import LedgerEntryAdmin
from billing.models import LedgerEntry
from billing.services import account_credit, account_get_or_create
from config.admin_lists import CappedCountPaginator
from config.templatetags.tally_admin import present

pytestmark = pytest.mark.django_db
URL = "/admin/billing/ledgerentry/"
SAME_MOMENT = datetime(2026, 6, 10, 8, 0, tzinfo=UTC)


def _entries() -> dict[str, list[int]]:
    """Seven entries of two accounts, five of them at the same moment (ties ordered by id)."""
    acme = account_get_or_create(namespace="acme")
    beta = account_get_or_create(namespace="beta")
    ids: dict[str, list[int]] = {"acme": [], "beta": []}
    for i in range(7):
        owner = acme if i % 2 == 0 else beta
        entry = account_credit(
            account_id=owner.pk, amount=Decimal("1"), idempotency_key=f"k{i}", memo=f"memo {i}"
        ).entry
        subject = f"PO-{i}"
        when = SAME_MOMENT if i < 5 else datetime(2026, 8, 1, tzinfo=UTC)
        LedgerEntry.objects.filter(pk=entry.pk).update(
            created_at=when, subject_type="purchase_order", subject_id=subject
        )
        ids[owner.namespace].append(entry.pk)
    return ids


def _listed(response: Any) -> list[int]:
    return [row.pk for row in response.context["cl"].result_list]


def test_the_count_stops_at_the_cap_and_says_so(admin_client: Client, monkeypatch: Any) -> None:
    _entries()
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL)
    assert response.status_code == 200
    assert response.context["cl"].paginator.count == 4  # cap + 1: "more than the cap"
    assert "more than 3 ledger entries" in response.content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts), counts


def test_small_lists_show_their_exact_count(admin_client: Client) -> None:
    _entries()
    response = admin_client.get(URL)
    assert response.context["cl"].result_count == 7
    assert "7 ledger entries" in response.content.decode()


def test_pages_keep_the_model_order_and_never_join(admin_client: Client, monkeypatch: Any) -> None:
    _entries()
    monkeypatch.setattr(LedgerEntryAdmin, "list_per_page", 3)
    expected = list(LedgerEntry.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    pages = []
    for page in (1, 2, 3):
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(URL, {"p": page})
        pages += _listed(response)
        listing = [q["sql"] for q in queries.captured_queries if "FROM `billing_ledgerentry`" in q["sql"]]
        listing += [q["sql"] for q in queries.captured_queries if 'FROM "billing_ledgerentry"' in q["sql"]]
        assert listing and not any("JOIN" in sql.upper() for sql in listing), listing
    assert pages == expected


def test_search_matches_a_namespace_or_a_subject_by_prefix(admin_client: Client) -> None:
    ids = _entries()
    assert sorted(_listed(admin_client.get(URL, {"q": "acme"}))) == sorted(ids["acme"])
    assert _listed(admin_client.get(URL, {"q": "PO-3"})) == [ids["beta"][1]]
    assert len(_listed(admin_client.get(URL, {"q": "po-"}))) == 7  # a prefix, any case
    assert _listed(admin_client.get(URL, {"q": "-3"})) == []  # no substring search over a big list
    assert _listed(admin_client.get(URL, {"q": "memo 3"})) == []
    assert _listed(admin_client.get(URL, {"q": "nobody"})) == []


def test_the_date_hierarchy_finds_its_buckets_in_one_query(django_assert_num_queries: Any) -> None:
    _entries()
    months = [date(2026, m, 1) for m in range(1, 13)]
    with django_assert_num_queries(1):
        found = present(LedgerEntry.objects.all(), "created_at", months, date(2027, 1, 1))
    assert found == [date(2026, 6, 1), date(2026, 8, 1)]
    assert present(LedgerEntry.objects.none(), "created_at", months, date(2027, 1, 1)) == []
    assert present(LedgerEntry.objects.filter(subject_id="PO-6"), "created_at", months, date(2027, 1, 1)) == [
        date(2026, 8, 1)
    ]


def test_the_date_hierarchy_probe_is_compiled_once_and_agrees_with_the_orm(
    django_assert_num_queries: Any,
) -> None:
    """The probe SQL is the ORM's, compiled once with marker bounds; each bucket runs it with its
    own bounds as parameters. Same answer as one ORM-compiled ``Exists`` per bucket, for every day
    of two months, for filtered lists, one that compares the same column, and an empty one."""
    from config.templatetags import tally_admin

    _entries()
    days = [date(2026, 6, 1) + timedelta(days=n) for n in range(30)] + [
        date(2026, 8, d) for d in range(1, 32)
    ]
    pairs = [(tally_admin._midnight(a), tally_admin._midnight(a + timedelta(days=1))) for a in days]
    lists = [
        LedgerEntry.objects.all(),
        LedgerEntry.objects.filter(subject_id="PO-6"),
        LedgerEntry.objects.filter(created_at__gte=datetime(2026, 6, 3, tzinfo=UTC)),
        LedgerEntry.objects.filter(id__in=[]),
    ]
    for qs in lists:
        with django_assert_num_queries(0 if qs is lists[-1] else 1):
            by_sql = tally_admin._probe_sql(qs, "created_at", pairs)
        assert by_sql == tally_admin._probe_orm(qs, "created_at", pairs), qs.query
    assert any(tally_admin._probe_sql(lists[0], "created_at", pairs))
    with django_assert_num_queries(1):
        found = present(LedgerEntry.objects.all(), "created_at", days[30:], date(2026, 9, 1))
    august = tally_admin._probe_orm(lists[0], "created_at", pairs[30:])
    assert found == [d for d, hit in zip(days[30:], august, strict=True) if hit] and found
