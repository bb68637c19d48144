"""``manage.py run_billing [--at T] [--dry-run] [--only KIND ...]``: every periodic money or state
job beat runs, once, at the (simulated) moment T: the list in ``orders.jobs.JOBS``."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.core.management.base import CommandError, CommandParser

from config.clock import local, parse_moment
from config.commands import TallyCommand
from config.exceptions import InvalidInput
from config.money import ZERO
from orders.jobs import JOBS, JobOutcome, jobs_run, jobs_select

SKIPPED_KEYS = {"at", "dry_run", "would_charge"}


def kinds_help() -> str:
    lines = [f"{job.kind}{'' if job.time_travel else ' (only with --only)'}: {job.about}" for job in JOBS]
    return "; ".join(lines)


def counts_text(result: Any, unit: str = "") -> str:
    """A task's result as words: ``renewed 3, money 90.0000``; zeros left out."""
    if result is None:
        return "skipped"
    if isinstance(result, int | Decimal | str):
        return f"{result} {unit}".strip()
    if not isinstance(result, dict):
        return str(result)
    parts = []
    for key, value in result.items():
        if key in SKIPPED_KEYS or value in (0, "0", "0.0000", None, [], {}):
            continue
        if isinstance(value, Decimal | int | float | str):
            parts.append(f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts) or "nothing due"


def outcome_json(outcome: JobOutcome) -> dict[str, Any]:
    w = outcome.written
    return {
        "kind": outcome.kind,
        "result": outcome.result,
        "seconds": round(outcome.seconds, 3),
        "ledger_entries": w.entries,
        "charged": str(w.charged),
        "credited": str(w.credited),
        "discount": str(w.discount),
        "usage_records": dict(w.records),
        "events": w.events,
        "quota_rows": w.quota_rows,
        "rows": w.lines,
        "more_rows": w.more,
    }


class Command(TallyCommand):
    help = "Run every periodic money/state job beat runs, once, at --at (default now). Jobs: " + kinds_help()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            help="the moment to run for, ISO 8601 (a date or a time without offset is TALLY_TIME_ZONE)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="list what each job would do; write nothing"
        )
        parser.add_argument(
            "--only",
            action="append",
            metavar="KIND",
            help="run only these jobs (repeat or comma-separate); see the list above",
        )
        parser.add_argument("--chunk-size", type=int, default=None, help="default BILLING_CHUNK_SIZE")
        parser.add_argument("--detail", type=int, default=20, help="rows listed per job (default 20)")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            at = parse_moment(opts["at"])
        except ValueError as exc:
            raise CommandError(f"--at: {exc}") from exc
        only = [kind.strip() for item in opts["only"] or [] for kind in item.split(",") if kind.strip()]
        try:
            selected = jobs_select(only)
        except InvalidInput as exc:
            raise CommandError(exc.message) from exc
        dry_run = opts["dry_run"]
        listed = opts["detail"] if dry_run or opts["verbosity"] > 1 else 0
        with self.progress(total=len(selected), desc="jobs", unit="job") as bar:
            outcomes = jobs_run(
                at=at,
                only=only,
                dry_run=dry_run,
                chunk_size=opts["chunk_size"],
                detail=listed,
                progress=lambda _: bar.update(1),
            )
        if opts["format"] == "json":
            self.stdout.write(  # data: written at every verbosity
                json.dumps(
                    {"at": at.isoformat(), "dry_run": dry_run, "jobs": [outcome_json(o) for o in outcomes]},
                    default=str,
                )
            )
            return
        self._text(at=at, dry_run=dry_run, outcomes=outcomes)

    def _text(self, *, at: Any, dry_run: bool, outcomes: list[JobOutcome]) -> None:
        head = "dry run: nothing written; " if dry_run else ""
        self.say(f"{head}run_billing at {local(at):%Y-%m-%d %H:%M:%S %Z} ({at.isoformat()})")
        width = max((len(o.kind) for o in outcomes), default=0)
        verb = "would write" if dry_run else "wrote"
        units = {job.kind: job.unit for job in JOBS}
        entries, charged, credited, discount = 0, ZERO, ZERO, ZERO
        for o in outcomes:
            self.say(f"  {o.kind.ljust(width)}  {counts_text(o.result, units[o.kind])}")
            w = o.written
            entries += w.entries
            charged += w.charged
            credited += w.credited
            discount += w.discount
            if not w.empty:
                records = ", ".join(f"{n} {status}" for status, n in sorted(w.records.items()))
                self.say(
                    f"  {''.ljust(width)}  {verb}: {w.entries} ledger entr{'y' if w.entries == 1 else 'ies'} "
                    f"(charged {w.charged}, credited {w.credited}"
                    + (f", discount {w.discount}" if w.discount else "")
                    + "), "
                    f"usage records {sum(w.records.values())}{f' ({records})' if records else ''}, "
                    f"order events {w.events}, quota rows {w.quota_rows}"
                )
            for line in w.lines:
                self.say(f"  {''.ljust(width)}    {line}")
            if w.more and w.lines:
                self.say(f"  {''.ljust(width)}    ... and {w.more} more")
        self.say(
            f"total: {entries} ledger entr{'y' if entries == 1 else 'ies'}, "
            f"charged {charged}, credited {credited}"
            + (f", discount {discount}" if discount else "")
            + (" (dry run: rolled back)" if dry_run else "")
        )
