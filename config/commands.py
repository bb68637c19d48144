"""The base of Tally's management commands: data on stdout, progress and status on stderr or as
summaries, and ``-v 0`` silencing everything but data and errors (bars, summaries, notes).

- ``self.progress(**tqdm_kwargs)``: a progress bar on stderr, off at ``-v 0``.
- ``self.say(text)``: a summary or status line on stdout, left out at ``-v 0``.
- ``self.note(text)``: a side remark on stderr ("report written to F"), left out at ``-v 0``.
- ``self.stdout.write``: data (a token, CSV, JSON), always written; ``self.stderr.write``: errors,
  always written. The exit status tells success at every verbosity.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm


class TallyCommand(BaseCommand):
    verbosity = 1

    def execute(self, *args: Any, **options: Any) -> str | None:
        self.verbosity = int(options.get("verbosity", 1))
        return super().execute(*args, **options)

    def progress(self, **kwargs: Any) -> tqdm[Any]:
        return tqdm(file=self.stderr, disable=self.verbosity == 0, **kwargs)

    def say(self, text: str, **kwargs: Any) -> None:
        if self.verbosity:
            self.stdout.write(text, **kwargs)

    def note(self, text: str) -> None:
        if self.verbosity:
            self.stderr.write(text)
