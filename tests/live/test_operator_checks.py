"""What an operator's monitoring sees of a running stack, over HTTP only: ``/healthz`` says a
worker answered beat's heartbeat and that migrations are applied; ``/metrics`` has the duration of
a periodic job that the worker ran for beat (not one called in-process)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from tests.live.conftest import LiveStack, start_live_stack

# Beat's every-minute jobs (package metering, vehicle starts): one of them runs within a minute.
MINUTE_JOB_SECONDS = 80
JOB_COUNT = re.compile(r'^tally_job_run_seconds_count\{job="([^"]+)"\} (\d+)\.0$', re.MULTILINE)


@pytest.fixture(scope="module")
def stack() -> Iterator[LiveStack]:
    with start_live_stack(
        demo=False, TALLY_HEARTBEAT_SECONDS="2", TALLY_HEARTBEAT_STALE_SECONDS="20"
    ) as live:
        yield live


def test_healthz_reports_the_worker_heartbeat_and_applied_migrations(stack: LiveStack) -> None:
    def answered() -> dict | None:
        data = requests.get(stack.base_url + "/healthz", timeout=5).json()["data"]
        return data if data["worker"]["ok"] else None

    data = stack.wait_for(answered, timeout=30, what="a worker answers the heartbeat")
    assert data["migrations"] == {"ok": True, "detail": {"pending": []}}
    assert data["worker"]["detail"]["seconds_since_answer"] <= 20
    assert data["database"]["ok"] and data["broker"]["ok"]


def test_metrics_have_the_duration_of_a_job_the_worker_ran(stack: LiveStack) -> None:
    def timed_jobs() -> dict[str, int]:
        text = requests.get(stack.base_url + "/metrics", timeout=5).text
        return {job: int(n) for job, n in JOB_COUNT.findall(text)}

    jobs = stack.wait_for(timed_jobs, timeout=MINUTE_JOB_SECONDS, what="a periodic job run recorded")
    assert "ops.heartbeat" not in jobs
    text = requests.get(stack.base_url + "/metrics", timeout=5).text
    job = next(iter(jobs))
    assert f'tally_job_runs_total{{job="{job}",outcome="success"}}' in text, text[-3000:]
    assert re.search(r'^tally_worker_seconds_since_heartbeat\{hostname="[^"]+"\} ', text, re.MULTILINE)
