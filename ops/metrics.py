"""Prometheus figures of this app, read from the database at scrape time (like orders/metrics.py):
how long the periodic jobs take and how long ago a worker answered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Count, Max, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from ops.models import JobRun, WorkerHeartbeat


class OpsCollector(Collector):
    def describe(self) -> list[Any]:
        return []  # no database access at registration

    def collect(self) -> Iterator[Any]:
        durations = SummaryMetricFamily(
            "tally_job_run_seconds",
            "wall-clock seconds of periodic job runs kept in JobRun (TALLY_JOB_RUN_RETENTION_DAYS)",
            labels=["job"],
        )
        last = GaugeMetricFamily("tally_job_last_run_seconds", "duration of the last run", labels=["job"])
        runs = CounterMetricFamily(
            "tally_job_runs", "periodic job runs kept in JobRun, by outcome", labels=["job", "outcome"]
        )
        per_job = JobRun.objects.values("job").order_by().annotate(n=Count("pk"), total=Sum("seconds"))
        for row in per_job:
            durations.add_metric([row["job"]], count_value=row["n"], sum_value=row["total"] or 0.0)
        latest = JobRun.objects.values("job").order_by().annotate(last=Max("finished_at"))
        for row in latest:
            run = JobRun.objects.filter(job=row["job"], finished_at=row["last"]).only("seconds").first()
            if run is not None:
                last.add_metric([row["job"]], run.seconds)
        for job, outcome, n in (
            JobRun.objects.values_list("job", "outcome").order_by().annotate(n=Count("pk"))
        ):
            runs.add_metric([job, outcome], n)
        yield durations
        yield last
        yield runs

        heartbeat = GaugeMetricFamily(
            "tally_worker_seconds_since_heartbeat", "seconds since the worker answered", labels=["hostname"]
        )
        now = timezone.now()
        for hostname, answered_at in WorkerHeartbeat.objects.values_list("hostname", "answered_at"):
            heartbeat.add_metric([hostname], (now - answered_at).total_seconds())
        yield heartbeat
