"""``GET /metrics``: Prometheus text format, for a scraper allowed by ``config.metrics.scrape_allowed``.

Business figures come from the database at scrape time, so they are exact whatever process wrote
them (web, any worker, ``manage.py``) and survive restarts; a counter here is a total since the
books began. Ledger and event tables only grow, so totals are kept per process and advanced by
``id > last seen`` (one indexed range query per scrape, not a scan of the ledger); the first scrape
of a process reads everything once.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from billing.models import LedgerEntry, RechargeEvent
from config.metrics import process_registry, scrape_allowed
from config.money_sql import ExactMoneySum, money_sum
from ops.metrics import OpsCollector
from orders.models import PurchaseOrderEvent
from orders.purchase.models import PurchaseOrderStatus
from usage.models import UsageRecord, UsageStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Totals:
    """Running totals of an append-only table, advanced by primary key."""

    def __init__(self) -> None:
        self.last_pk = 0
        self.count: dict[str, int] = defaultdict(int)
        self.amount: dict[str, Decimal] = defaultdict(Decimal)
        self.lock = threading.Lock()


class BusinessCollector(Collector):
    def __init__(self) -> None:
        self.ledger = _Totals()
        self.recharges = _Totals()
        self.renewals = _Totals()

    def describe(self) -> list[Any]:
        """Nothing up front: without it the registry would call ``collect`` (the database) at
        import time to learn the names."""
        return []

    def _advance_ledger(self) -> None:
        with self.ledger.lock:
            rows = LedgerEntry.objects.filter(pk__gt=self.ledger.last_pk)
            top = rows.aggregate(m=Max("pk"))["m"]
            if top is None:
                return
            window = rows.filter(pk__lte=top).values("kind").order_by()  # no ordering in GROUP BY
            for row in window.annotate(n=Count("pk"), total=ExactMoneySum("amount")):
                self.ledger.count[row["kind"]] += row["n"]
                self.ledger.amount[row["kind"]] += row["total"] or Decimal(0)
            self.ledger.last_pk = top

    def _advance_events(self, totals: _Totals, qs: Any, field: str) -> None:
        with totals.lock:
            top = qs.filter(pk__gt=totals.last_pk).aggregate(m=Max("pk"))["m"]
            if top is None:
                return
            window = qs.filter(pk__gt=totals.last_pk, pk__lte=top)
            for value, n in window.values_list(field).annotate(n=Count("pk")).order_by():
                totals.count[str(value)] += n
            totals.last_pk = top

    def collect(self) -> Iterator[Any]:
        self._advance_ledger()
        currency = settings.TALLY_CURRENCY
        entries = CounterMetricFamily(
            "tally_ledger_entries", "ledger entries written, by kind", labels=["kind"]
        )
        money = CounterMetricFamily(
            "tally_ledger_amount", f"money moved in {currency} (charges negative), by kind", labels=["kind"]
        )
        for kind in sorted(self.ledger.count):
            entries.add_metric([kind], self.ledger.count[kind])
            money.add_metric([kind], float(self.ledger.amount[kind]))
        yield entries
        yield money

        self._advance_events(self.recharges, RechargeEvent.objects.all(), "to_status")
        callbacks = CounterMetricFamily(
            "tally_recharge_transitions", "recharge order transitions, by new status", labels=["status"]
        )
        for status in sorted(self.recharges.count):
            callbacks.add_metric([status], self.recharges.count[status])
        yield callbacks

        failed = PurchaseOrderEvent.objects.filter(to_status=PurchaseOrderStatus.RENEWALFAILED)
        self._advance_events(self.renewals, failed, "to_status")
        yield CounterMetricFamily(
            "tally_renewals_failed",
            "purchase-order renewals that could not be paid",
            value=sum(self.renewals.count.values()),
        )

        arrears = UsageRecord.objects.filter(status=UsageStatus.ARREARS)
        yield GaugeMetricFamily(
            "tally_arrears_amount",
            f"unpaid usage in arrears, {currency}",
            value=float(money_sum(arrears, "amount")),
        )
        yield GaugeMetricFamily("tally_arrears_records", "usage records in arrears", value=arrears.count())
        yield _job_staleness()
        yield _queue_depth()


def _job_staleness() -> GaugeMetricFamily:
    """Seconds since beat last sent each periodic job (django-celery-beat's ``last_run_at``): the
    figure to alert on when billing stops running."""
    gauge = GaugeMetricFamily(
        "tally_job_seconds_since_last_run", "seconds since beat last sent the job", labels=["job"]
    )
    now = timezone.now()
    for name, last in PeriodicTask.objects.exclude(last_run_at=None).values_list("name", "last_run_at"):
        gauge.add_metric([name], (now - last).total_seconds())
    return gauge


def _queue_depth() -> GaugeMetricFamily:
    """Messages waiting in the default Celery queue (Redis and the filesystem broker; RabbitMQ has
    its own exporter)."""
    gauge = GaugeMetricFamily(
        "tally_celery_queue_depth", "messages waiting in the celery queue", labels=["queue"]
    )
    url = settings.CELERY_BROKER_URL
    if url.startswith("redis"):
        import redis

        waiting = redis.Redis.from_url(url, socket_timeout=2).llen("celery")
        gauge.add_metric(["celery"], float(waiting))  # type: ignore[arg-type]  # sync client: an int
    elif url.startswith("filesystem"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_out"]))
        gauge.add_metric(["celery"], sum(1 for _ in folder.glob("*.celery.msg")))
    return gauge


_COLLECTOR = BusinessCollector()
REGISTRY.register(_COLLECTOR)
_OPS_COLLECTOR = OpsCollector()
REGISTRY.register(_OPS_COLLECTOR)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    registry = process_registry()
    if registry is not None:
        registry.register(_COLLECTOR)
        registry.register(_OPS_COLLECTOR)
        body = generate_latest(registry)
        registry.unregister(_OPS_COLLECTOR)
        registry.unregister(_COLLECTOR)
    else:
        body = generate_latest(REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE)
