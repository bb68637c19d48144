"""``/healthz``'s migration and worker checks, who sees the details, and the ops rows behind them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from ops import health
from ops.models import JobOutcome, JobRun, WorkerHeartbeat
from ops.services import heartbeat_record, job_run_record
from ops.tasks import heartbeat

OUTSIDE = "203.0.113.9"  # not in METRICS_ALLOWED_NETWORKS


@pytest.fixture(autouse=True)
def fresh_migration_state(monkeypatch):
    monkeypatch.setattr(health, "_migrations", health._MigrationState())


def healthz(client, **extra):
    r = client.get("/healthz", **extra)
    return r.status_code, r.json()


@pytest.mark.django_db
def test_worker_is_ok_after_the_heartbeat_and_stale_later(client, settings):
    status, body = healthz(client, REMOTE_ADDR=OUTSIDE)
    assert status == 200 and body["data"]["worker"] == {"ok": False}  # nobody answered yet

    heartbeat.apply()  # the task body a worker runs for beat's message
    assert WorkerHeartbeat.objects.count() == 1
    status, body = healthz(client, REMOTE_ADDR=OUTSIDE)
    assert status == 200 and body["data"]["worker"] == {"ok": True}

    WorkerHeartbeat.objects.update(
        answered_at=timezone.now() - timedelta(seconds=settings.TALLY_HEARTBEAT_STALE_SECONDS + 5)
    )
    status, body = healthz(client)  # loopback: details
    assert status == 200, "a stale worker is reported, it does not take the web node out"
    worker = body["data"]["worker"]
    assert worker["ok"] is False
    assert worker["detail"]["seconds_since_answer"] > settings.TALLY_HEARTBEAT_STALE_SECONDS


@pytest.mark.django_db
def test_unapplied_migration_makes_healthz_503_and_names_it(client):
    MigrationRecorder.Migration.objects.filter(app="ops", name="0001_initial").delete()
    status, body = healthz(client, REMOTE_ADDR=OUTSIDE)
    assert status == 503
    assert body["code"] == 3323 and body["data"]["migrations"] == {"ok": False}
    status, body = healthz(client)
    assert body["data"]["migrations"]["detail"]["pending"] == ["ops.0001_initial"]


@pytest.mark.django_db
def test_details_only_for_the_metrics_token_or_an_unproxied_local_caller(client, settings):
    settings.METRICS_TOKEN = "ops-token-0123456789abcdef"
    _, anonymous = healthz(client, REMOTE_ADDR=OUTSIDE)
    assert all(set(check) == {"ok"} for check in anonymous["data"].values())

    _, proxied = healthz(client, HTTP_X_FORWARDED_FOR="198.51.100.7")  # loopback, but relayed
    assert all(set(check) == {"ok"} for check in proxied["data"].values())

    _, with_token = healthz(
        client, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer ops-token-0123456789abcdef"
    )
    assert with_token["data"]["database"] == {"ok": True, "detail": "ok"}
    assert with_token["data"]["migrations"] == {"ok": True, "detail": {"pending": []}}
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 403


@pytest.mark.django_db
def test_job_runs_are_one_row_per_task_id_and_old_ones_are_purged(settings):
    started = timezone.now()
    job_run_record(
        task_id="t-1", job="orders.tick", hostname="w1", started_at=started, seconds=1.5, state="SUCCESS"
    )
    job_run_record(
        task_id="t-1", job="orders.tick", hostname="w1", started_at=started, seconds=2.5, state="FAILURE"
    )
    run = JobRun.objects.get()
    assert (run.seconds, run.outcome) == (2.5, JobOutcome.FAILURE)

    JobRun.objects.update(finished_at=started - timedelta(days=settings.TALLY_JOB_RUN_RETENTION_DAYS + 1))
    heartbeat_record(hostname="w1")
    assert not JobRun.objects.exists()


@pytest.mark.django_db
def test_metrics_report_job_durations_and_heartbeat_age(client):
    started = timezone.now()
    for n, seconds in enumerate((0.5, 1.5)):
        job_run_record(
            task_id=f"r{n}",
            job="orders.tick",
            hostname="w1",
            started_at=started,
            seconds=seconds,
            state="SUCCESS",
        )
    heartbeat_record(hostname="w1")
    text = client.get("/metrics").content.decode()
    assert 'tally_job_run_seconds_count{job="orders.tick"} 2.0' in text
    assert 'tally_job_run_seconds_sum{job="orders.tick"} 2.0' in text
    assert 'tally_job_runs_total{job="orders.tick",outcome="success"} 2.0' in text
    assert 'tally_worker_seconds_since_heartbeat{hostname="w1"}' in text


def test_eager_calls_are_not_worker_runs():
    """run_billing and tests call job bodies in-process: no JobRun (a dry run writes nothing)."""
    from ops.jobruns import is_worker_run, job_task_names

    assert "ops.heartbeat" not in job_task_names()
    assert "usage.settle_arrears_sweep" in job_task_names()

    class Request:
        is_eager = True

    class Task:
        name = "usage.settle_arrears_sweep"
        request = Request()

    assert is_worker_run(Task()) is False
    Request.is_eager = False
    assert is_worker_run(Task()) is True
