"""GET /metrics: Prometheus text for an allowed scraper only; business figures read from the
database (exact whatever process wrote them), counted once however often it is scraped."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from billing.services import account_charge, account_credit, account_get_or_create
from orders import metrics
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_totals():
    """Test databases roll back (and SQLite reuses ids); the running totals start from zero."""
    metrics._COLLECTOR.__init__()  # type: ignore[misc]


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Client | None = None, **extra: str) -> Samples:
    response = (client or Client()).get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_only_loopback_or_the_token_may_scrape(settings):
    settings.METRICS_TOKEN = "scrape-secret"
    outside = Client(REMOTE_ADDR="203.0.113.9")
    assert outside.get("/metrics").status_code == 403
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24"]
    assert outside.get("/metrics").status_code == 200


def test_money_moved_is_counted_once_per_entry_however_often_scraped(user):
    account = account_get_or_create(namespace="metrics-ns", member=user)
    account_credit(account_id=account.pk, amount=Decimal("100"), idempotency_key="m1", subject=("t", "1"))
    first = scrape()
    account_charge(account_id=account.pk, amount=Decimal("12.3456"), idempotency_key="m2", subject=("t", "2"))
    account_charge(account_id=account.pk, amount=Decimal("0.0001"), idempotency_key="m3", subject=("t", "3"))
    second = scrape()
    third = scrape()
    charge = ("tally_ledger_entries_total", (("kind", "charge"),))
    amount = ("tally_ledger_amount_total", (("kind", "charge"),))
    assert first.get(charge, 0) == 0 and second[charge] == 2 and third[charge] == 2
    assert second[amount] == pytest.approx(-12.3457)
    assert third[("tally_ledger_amount_total", (("kind", "recharge"),))] == 100


def test_arrears_and_http_requests_are_reported(user, api):
    account = account_get_or_create(namespace="metrics-arrears", member=user)
    UsageRecord.objects.create(
        account=account, source="package", order_ref="P-M", line_id=1, period_key="p:m",
        period_start="2026-11-01T00:00:00Z", period_end="2026-11-01T01:00:00Z",
        unit_price=Decimal("7.5"), amount=Decimal("7.5"), kind="usage", status="arrears",
    )  # fmt: skip
    assert api.get("/api/v1/billing/account").status_code == 200
    samples = scrape()
    assert samples[("tally_arrears_amount", ())] == 7.5 and samples[("tally_arrears_records", ())] == 1
    served = [k for k in samples if k[0] == "tally_http_requests_total" and ("status", "200") in k[1]]
    assert any(("method", "GET") in labels for _, labels in served)
    assert ("tally_celery_queue_depth", (("queue", "celery"),)) in samples
