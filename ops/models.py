"""Rows a worker writes so that any web process can tell whether workers answer and how long the
periodic jobs take: ``/healthz`` and ``/metrics`` read them (the broker has no such memory)."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per worker host: when it last ran the heartbeat task that beat sends every
    ``TALLY_HEARTBEAT_SECONDS`` (so a stale row means beat, the broker or the worker is down)."""

    hostname = models.CharField(max_length=255, unique=True)
    answered_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-answered_at"]

    def __str__(self) -> str:
        return f"{self.hostname} at {self.answered_at:%Y-%m-%d %H:%M:%S}"


class JobOutcome(models.TextChoices):
    SUCCESS = "success", "success"
    FAILURE = "failure", "failure"
    RETRY = "retry", "retry"


class JobRun(models.Model):
    """One execution of a periodic job's task by a worker (beat's message or a retry of it)."""

    task_id = models.CharField(max_length=255, unique=True)  # a redelivered message: one row
    job = models.CharField(max_length=200, db_index=True, help_text="the task name")
    hostname = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(db_index=True)
    seconds = models.FloatField(help_text="wall-clock duration")
    outcome = models.CharField(max_length=10, choices=JobOutcome.choices)

    class Meta:
        ordering = ["-finished_at"]
        indexes = [models.Index(fields=["job", "finished_at"])]

    def __str__(self) -> str:
        return f"{self.job} {self.outcome} in {self.seconds:.3f}s"
