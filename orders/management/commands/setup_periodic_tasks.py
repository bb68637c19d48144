"""Create or update the django-celery-beat rows from ``config.schedule.beat_schedule()``; idempotent.

The code is the source of truth for periodic jobs; the database scheduler only mirrors it, so no one
creates a beat entry by hand. Beat does the same every time it starts (``config.beat``); this
command shows what it would change (``--dry-run``) and writes it ahead of a release.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from config.beat import sync_beat_rows
from config.commands import TallyCommand
from config.exceptions import InvalidInput
from config.schedule import beat_schedule


class Command(TallyCommand):
    help = "Create/update django-celery-beat periodic tasks from config.schedule (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = sync_beat_rows(beat_schedule(), dry_run=options["dry_run"])
        except InvalidInput as exc:
            raise CommandError(str(exc)) from exc
        for line in result.changes:
            self.say(line)
        prefix = "would have: " if options["dry_run"] else ""
        self.say(self.style.SUCCESS(f"{prefix}{result.summary()}"))
