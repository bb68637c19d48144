"""CSV export of the filtered changelist (config.admin_tools.CsvExportMixin)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from billing.models import LedgerEntry
from billing.services import account_charge, account_credit, account_get_or_create
from config.admin_tools import CsvExportMixin, csv_cell

pytestmark = pytest.mark.django_db


class LedgerCsvAdmin(CsvExportMixin, admin.ModelAdmin):
    list_display = ["id", "account", "kind", "amount", "memo", "created_at"]
    list_filter = ["kind"]
    search_fields = ["account__namespace", "memo"]
    list_select_related = ["account"]


def _export(user: Any, query: str = "") -> list[list[str]]:
    model_admin = LedgerCsvAdmin(LedgerEntry, admin.site)
    request = RequestFactory().get(f"/admin/billing/ledgerentry/export/{query}")
    request.user = user
    response = model_admin.export_csv_view(request)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def _data() -> None:
    a = account_get_or_create(namespace="acme")
    b = account_get_or_create(namespace="beta")
    account_credit(account_id=a.pk, amount=Decimal("100"), idempotency_key="a1", memo="=HYPERLINK(1)")
    account_charge(account_id=a.pk, amount=Decimal("12.5"), idempotency_key="a2")
    account_credit(account_id=b.pk, amount=Decimal("7"), idempotency_key="b1")


def test_exports_only_the_filtered_rows(admin_user: Any) -> None:
    _data()
    rows = _export(admin_user, "?kind__exact=recharge")
    assert rows[0] == ["ID", "Account", "Kind", "Amount", "Memo", "Created at (Asia/Shanghai)"]
    body = rows[1:]
    assert len(body) == 2 and {r[1] for r in body} == {"acme", "beta"}
    assert {r[2] for r in body} == {"Recharge"}
    searched = _export(admin_user, "?q=beta")
    assert [r[1] for r in searched[1:]] == ["beta"] and searched[1][3] == "7.0000"


def test_all_rows_with_exact_decimals_and_no_formulas(admin_user: Any) -> None:
    _data()
    rows = _export(admin_user)[1:]
    assert len(rows) == 3
    assert "-12.5000" in [r[3] for r in rows]
    assert "'=HYPERLINK(1)" in [r[4] for r in rows]


def test_needs_view_permission(make_user: Any) -> None:
    with pytest.raises(PermissionDenied):
        _export(make_user("nobody", staff=True))


def test_csv_cell() -> None:
    assert csv_cell(None) == "" and csv_cell(True) == "true"
    assert csv_cell(Decimal("-1.50")) == "-1.50" and csv_cell("-3") == "-3"
    assert csv_cell("@cmd") == "'@cmd" and csv_cell("<b>x</b>") == "x"
