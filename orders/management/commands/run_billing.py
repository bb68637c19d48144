"""``manage.py run_billing [--at ISO] [--dry-run]``: one pass of the renewal engine, then (when it is
installed) the billing-jobs runner for hourly/postpaid lines — the same services beat runs."""

from __future__ import annotations

import importlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from tqdm import tqdm

from orders.services.renewal import due_lines, renewal_run


class Command(BaseCommand):
    help = "Renew due prepaid purchase orders (and run hourly/postpaid billing jobs) once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--at", help="the moment to bill for, ISO 8601 (default: now)")
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be charged, write nothing"
        )
        parser.add_argument("--chunk-size", type=int, default=100)

    def handle(self, *args: Any, **opts: Any) -> None:
        at = timezone.now()
        if opts["at"]:
            try:
                parsed = parse_datetime(opts["at"])
            except ValueError:
                parsed = None
            if parsed is None:
                raise CommandError(f"--at {opts['at']!r} is not an ISO 8601 date-time")
            at = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        total = due_lines(at=at).count()
        with tqdm(total=total, desc="renewals", unit="line", file=self.stderr, disable=total == 0) as bar:
            summary = renewal_run(
                at=at, chunk_size=opts["chunk_size"], dry_run=opts["dry_run"], progress=bar.update
            )
        prefix = "dry run: would renew" if opts["dry_run"] else "renewed"
        self.stdout.write(
            f"{prefix} {summary.renewed} period(s) for {summary.money} at {at.isoformat()}; "
            f"scanned {summary.scanned}, renewal failed {summary.failed}, ended {summary.ended}, "
            f"skipped {summary.skipped}, errors {summary.errors}"
        )
        for item in summary.would_charge:
            self.stdout.write(f"  {item['order_id']} {item['period_start']} {item['money']}")
        if opts["dry_run"]:
            return
        try:
            jobs = importlib.import_module("orders.services.jobs")
        except ModuleNotFoundError:
            return
        runner = getattr(jobs, "billing_jobs_run", None)
        if runner is None:
            return
        result = runner(at=at, chunk_size=opts["chunk_size"])
        self.stdout.write(f"billing jobs: {result}")
