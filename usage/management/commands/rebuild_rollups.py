"""``manage.py rebuild_rollups [--from YYYY-MM-DD] [--to YYYY-MM-DD]``: recompute the usage
rollups (``usage.rollups``) of the local days in the range (whole months; all without bounds) from
the usage records. The repair after a raw write into ``usage_usagerecord``, a restore, or a change
of ``TALLY_TIME_ZONE``; ``audit_ledger`` says when one is needed (``rollup_mismatch``)."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from usage import rollups


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise CommandError(f"--{name} must be YYYY-MM-DD") from exc


class Command(BaseCommand):
    help = "Recompute the daily and monthly usage rollups of a range of local days from the records."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", help="first local day (its month is rebuilt whole)")
        parser.add_argument("--to", dest="end", help="last local day, included (its month whole)")

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = _day(options["start"], "from"), _day(options["end"], "to")
        if start and end and end < start:
            raise CommandError("--to must not be before --from")
        began = time.monotonic()
        buckets = rollups.rebuild(start=start, end=end)
        self.stdout.write(f"rebuilt {buckets} day bucket(s) in {time.monotonic() - began:.1f} s")
