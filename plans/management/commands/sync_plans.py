"""``manage.py sync_plans [--url U | --file F] [--dry-run] [--force]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from config.commands import TallyCommand
from config.exceptions import DomainError
from plans.sync import sync_plans


class Command(TallyCommand):
    help = "Import the catalog from the plan service (PLAN_SERVICE_URL), a URL or a file."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--url", help="plan service URL (default: PLAN_SERVICE_URL)")
        source.add_argument("--file", help="a catalog document (JSON) on disk")
        parser.add_argument("--dry-run", action="store_true", help="show what would change, save nothing")
        parser.add_argument(
            "--force", action="store_true", help="accept new prices starting less than one cycle ahead"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = sync_plans(
                url=options["url"], file=options["file"], dry_run=options["dry_run"], force=options["force"]
            )
        except DomainError as exc:
            details = "".join(f"\n  {path}: {'; '.join(msgs)}" for path, msgs in (exc.errors or {}).items())
            raise CommandError(f"{exc.message}{details}") from None
        prefix = "would be " if report.dry_run else ""
        for label, ids in (
            ("created", report.created),
            ("updated", report.updated),
            ("retired", report.retired),
            ("new price versions", report.new_versions),
            ("removed future versions", report.removed_versions),
            ("used versions kept as they are", report.kept_used),
        ):
            self.say(f"{prefix}{label} ({len(ids)}): {', '.join(ids) if ids else '-'}")
        self.say(report.summary())
