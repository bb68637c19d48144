"""Recorded audit runs and the CSV of findings (``manage.py audit_ledger``, the nightly job)."""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

from usage.audit.checks import CHECKS, Finding, Progress, ledger_audit, ledger_entry_count
from usage.models import AuditRun

SAMPLE = 50  # findings kept on the run row; the CSV has them all


def audit_run_record(
    *,
    namespace: str | None = None,
    source: str,
    progress: Progress | None = None,
    at: datetime | None = None,
) -> tuple[AuditRun, list[Finding]]:
    """Run ``ledger_audit`` and record the run (also when it finds nothing); ``at`` is the moment
    it is recorded for (default now)."""
    started = at or timezone.now()
    clock = time.monotonic()
    entries = ledger_entry_count(namespace=namespace)
    findings = ledger_audit(namespace=namespace, progress=progress)
    counts = Counter(f.check for f in findings)
    run = AuditRun.objects.create(
        started_at=started,
        finished_at=started + timedelta(seconds=time.monotonic() - clock),
        source=source,
        namespace=namespace or "",
        entries=entries,
        findings=len(findings),
        counts={check: counts.get(check, 0) for check in CHECKS},
        sample=[f.as_dict() for f in findings[:SAMPLE]],
    )
    return run, findings


def findings_csv_write(findings: Iterable[Finding], path: Path) -> int:
    """One row per finding, with a header; returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [f.name for f in fields(Finding)]
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for finding in findings:
            writer.writerow(finding.as_dict())
            rows += 1
    return rows
