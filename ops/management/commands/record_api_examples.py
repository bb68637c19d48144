"""``manage.py record_api_examples``: record config/api/examples.json from the demo data.

Everything happens inside one transaction that is rolled back: the demo is loaded (if it is not
there), every operation is called once through the API, and nothing stays behind (no task is sent
either: tasks go out on commit). See config/api/examples.py and ops/examples_scenario.py.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError

from config.api.examples import EXAMPLES_FILE
from config.commands import TallyCommand
from ops.examples_record import record


class Command(TallyCommand):
    help = (
        "Record config/api/examples.json: every API operation called once on the demo data, then rolled back."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--check", action="store_true", help="record, compare shapes with the file, write nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        recorded, failures = record()
        for line in failures:
            self.stderr.write(line)
        if failures:
            raise CommandError(
                f"{len(failures)} call(s) did not answer as the scenario expects; nothing written"
            )
        if options["check"]:
            return
        EXAMPLES_FILE.write_text(json.dumps(recorded, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        self.say(f"{len(recorded)} operations recorded into {EXAMPLES_FILE}")
