"""Money and time read like money and time in the back office (issue 17.2): one helper
(``config.display``), local times with the zone named, CSV headers naming currency and zone."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from billing.models import LedgerEntry
from billing.services import account_charge, account_credit, account_get_or_create
from config.display import local_period, local_time, money_html, money_text, short_time
from config.templatetags.tally_admin import present

pytestmark = pytest.mark.django_db


def test_money_text_has_the_currency_separators_and_places() -> None:
    assert money_text(Decimal("1683.7")) == "CNY 1,683.70"
    assert money_text(Decimal("-12.5"), "USD") == "USD -12.50"
    assert money_text(Decimal("0.00005"), places=4) == "CNY 0.0001"  # half-up like the API
    assert money_text(Decimal("-0.001"), places=2) == "CNY 0.00"  # never "-0.00"
    assert money_text(Decimal("0.0042")) == "CNY 0.0042"  # sub-cent money never reads as 0.00
    assert money_text(Decimal("-0.0010")) == "CNY -0.0010"
    assert money_text(Decimal("1234567.125"), places=2) == "CNY 1,234,567.13"
    assert money_text(Decimal("1234567.125")) == "CNY 1,234,567.1250"
    assert money_text(None) == "-"
    with pytest.raises(TypeError):
        money_text(1.5)  # type: ignore[arg-type]


def test_negative_money_is_marked_in_html() -> None:
    assert money_html(Decimal("-3")) == '<span class="tally-money tally-negative">CNY -3.00</span>'
    assert money_html(Decimal("3")) == '<span class="tally-money">CNY 3.00</span>'


def test_times_are_local_with_the_zone_named() -> None:
    moment = datetime(2026, 12, 1, 0, 24, 29, 955530, tzinfo=UTC)
    assert local_time(moment) == "2026-12-01 08:24 CST"
    assert local_time(moment, seconds=True) == "2026-12-01 08:24:29 CST"
    assert short_time(moment) == "08:24 CST"
    end = datetime(2026, 12, 1, 1, 24, tzinfo=UTC)
    assert local_period(moment, end) == "2026-12-01 08:24 – 09:24 CST"
    assert local_period(moment, datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == (
        "2026-12-01 08:24 – 2027-01-01 00:00 CST"
    )


def _ledger() -> Any:
    account = account_get_or_create(namespace="acme")
    account_credit(
        account_id=account.pk, amount=Decimal("1683.7"), idempotency_key="k1", memo="bank transfer 7"
    )
    account_charge(account_id=account.pk, amount=Decimal("12.5"), idempotency_key="k2")
    # 23:30 UTC on Nov 30 is Dec 1 in Shanghai
    LedgerEntry.objects.filter(idempotency_key="k1").update(
        created_at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    )
    return account


def test_admin_lists_show_money_and_local_times(admin_client: Client) -> None:
    _ledger()
    html = admin_client.get("/admin/billing/ledgerentry/").content.decode()
    assert "CNY 1,683.70" in html and "tally-negative" in html and "CNY -12.50" in html
    assert "2026-12-01 07:30 CST" in html
    api = admin_client.get("/admin/billing/account/").content.decode()
    assert "CNY 1,671.20" in api


def test_ledger_csv_names_currency_and_zone_and_has_the_memo(admin_client: Client) -> None:
    _ledger()
    response = admin_client.get("/admin/billing/ledgerentry/export/?kind__exact=recharge")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert "Amount (CNY)" in header and "Created at (Asia/Shanghai)" in header and "Memo" in header
    assert row["Amount (CNY)"] == "1683.7000" and row["Memo"] == "bank transfer 7"
    assert row["Created at (Asia/Shanghai)"] == "2026-12-01 07:30:00"
    assert row["Currency"] == "CNY" and len(rows) == 2


@pytest.mark.parametrize(
    "url", ["account", "rechargeorder", "monthlyquota", "quotausage", "ledgerentry"], ids=str
)
def test_every_billing_money_list_exports_csv(url: str, admin_client: Client) -> None:
    _ledger()
    response = admin_client.get(f"/admin/billing/{url}/export/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert b"".join(response.streaming_content).decode().splitlines()[0]


def test_date_hierarchy_counts_on_local_boundaries(admin_client: Client) -> None:
    _ledger()
    qs = LedgerEntry.objects.all()
    from datetime import date

    # the Nov 30 23:30 UTC entry belongs to December locally
    assert present(qs, "created_at", [date(2026, 11, 1), date(2026, 12, 1)], date(2027, 1, 1)) == [
        date(2026, 12, 1)
    ]
    page = admin_client.get("/admin/billing/ledgerentry/?created_at__year=2026").content.decode()
    assert "created_at__month=12" in page and "created_at__month=11" not in page


def test_api_times_stay_utc(api: Any) -> None:
    """The admin's zone does not leak into the API (still ISO 8601 in UTC)."""
    response = api.get("/api/v1/me")
    assert response.status_code == 200
    assert "+08:00" not in response.content.decode()
