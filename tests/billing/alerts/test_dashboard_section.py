"""The finance dashboard lists the accounts under their alert thresholds (as of the evaluator's
last run), shortest runway first, with balance, burn and runway now; a recovered account leaves."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from billing.alerts.selectors import accounts_under_thresholds
from billing.services import account_credit
from tests.billing.factories import funded_account

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _defaults(settings: Any) -> None:
    settings.BALANCE_ALERT_BELOW = D("10")
    settings.RUNWAY_ALERT_DAYS = 7


def _section(client: Client) -> str:
    html = client.get("/admin/dashboard/").content.decode()
    found = re.search(r'<div class="module" id="under-thresholds">(.*?)</div>', html, re.S)
    assert found, "the dashboard has no under-thresholds section"
    return found.group(1)


def test_the_dashboard_lists_accounts_under_their_thresholds(
    admin_client: Client, burn: Any, sent: Any, evaluate: Any
) -> None:
    slow = funded_account("slow", "100")  # 100 / 20 = 5 days: runway low
    broke = funded_account("broke", "3")  # 3 < 10: balance low, and 1 day of runway at 3 a day
    healthy = funded_account("healthy", "1000")
    burn[slow.pk], burn[broke.pk], burn[healthy.pk] = D("20"), D("3"), D("10")
    evaluate()
    total, rows = accounts_under_thresholds()
    assert total == 2
    assert [(r["namespace"], r["kinds"], r["runway_days"]) for r in rows] == [
        ("broke", ["balance_low", "runway_low"], D("1.00")),
        ("slow", ["runway_low"], D("5.00")),
    ]
    section = _section(admin_client)
    assert "(2)" in section and "healthy" not in section
    assert section.index(">broke<") < section.index(">slow<")  # shortest runway first
    assert "CNY 3.00" in section and "CNY 20.00" in section and "5.0" in section

    account_credit(account_id=slow.pk, amount=D("200"), idempotency_key="top-up")  # 15 days
    evaluate()
    section = _section(admin_client)
    assert ">slow<" not in section and ">broke<" in section and "(1)" in section


def test_no_account_under_its_thresholds(admin_client: Client, burn: Any, evaluate: Any) -> None:
    funded_account("fine", "1000")
    evaluate()
    assert "No account is under its thresholds." in _section(admin_client)
