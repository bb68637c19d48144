from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from billing.batch import batch_apply, batch_validate
from config.commands import TallyCommand


class Command(TallyCommand):
    help = (
        "Credit wallets from a CSV of namespace,amount,reference[,memo] (offline bank transfers). "
        "Every line is validated first; valid lines are applied as idempotent credits keyed by reference. "
        "Exit status 1 when any line was rejected (valid lines are still applied), 0 otherwise."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="validate and report only")
        parser.add_argument("--actor", help="username recorded as the actor of the credits")

    def handle(self, *args: Any, file: str, dry_run: bool, actor: str | None, **options: Any) -> None:
        user = None
        if actor:
            user = get_user_model().objects.filter(username=actor).first()
            if user is None:
                raise CommandError(f"unknown actor {actor!r}")
        try:
            with open(file, encoding="utf-8-sig", newline="") as fh:
                report = batch_validate(fh)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text") from exc
        for line_no, reason in report.rejected:
            self.stderr.write(f"line {line_no}: {reason}")
        if dry_run:
            self.say(
                f"dry run: {len(report.valid)} valid ({report.valid_money}), "
                f"{len(report.rejected)} rejected, {report.total} total; nothing applied"
            )
        else:
            with self.progress(total=len(report.valid), desc="recharging", unit="line") as bar:
                batch_apply(report, actor=user, progress=lambda: bar.update(1))
            for line_no, reason in report.conflicts:
                self.stderr.write(f"line {line_no}: warning: {reason}")
            self.say(
                f"applied {report.applied}, already applied {report.already_applied}, "
                f"rejected {len(report.rejected)}, total lines {report.total}, "
                f"money applied {report.applied_money}"
            )
        if report.rejected:
            raise CommandError(f"{len(report.rejected)} line(s) rejected", returncode=1)
