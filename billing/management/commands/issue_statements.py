"""``manage.py issue_statements --period YYYY-MM [--namespace NS] [--dry-run]``: the beat's work by
hand. Issues the closed month's statements (idempotent: accounts that have one are skipped);
``--dry-run`` runs the same computation and writes nothing; on a running month it says the real run
would refuse it and shows the draft so far."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management.base import CommandError, CommandParser

from billing.models import Account
from billing.statements.periods import parse_period
from billing.statements.services import (
    candidates,
    statement_batches_plan,
    statements_issue_for,
    statements_issue_run,
    statements_preview,
)
from config.commands import TallyCommand
from config.exceptions import DomainError


class Command(TallyCommand):
    help = "Issue the monthly statements of a closed period (all accounts, or one namespace)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="the month, YYYY-MM (TALLY_TIME_ZONE)")
        parser.add_argument("--namespace", help="only this account")
        parser.add_argument("--dry-run", action="store_true", help="compute and report, write nothing")
        parser.add_argument("--chunk-size", type=int, default=None, help="accounts per transaction")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            period = parse_period(opts["period"], field="--period")
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        namespace = opts["namespace"]
        if namespace and not Account.objects.filter(namespace=namespace).exists():
            raise CommandError(f"unknown namespace {namespace!r}")
        try:
            if opts["dry_run"]:
                self._dry_run(period, namespace, opts["chunk_size"])
            elif namespace:
                result = statements_issue_for(
                    accounts=candidates(period=period, namespace=namespace), period=period
                )
                self._report(result)
            else:
                pending = statement_batches_plan(period=period, chunk_size=opts["chunk_size"])
                with self.progress(total=pending, desc="statements", unit="chunk") as bar:
                    result = statements_issue_run(
                        period=period, chunk_size=opts["chunk_size"], progress=bar.update
                    )
                self._report(result)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _dry_run(self, period: Any, namespace: str | None, chunk_size: int | None) -> None:
        count = inconsistent = 0
        closing = Decimal(0)
        with self.progress(desc="statements (dry run)", unit="account") as bar:
            for chunk in statements_preview(period=period, namespace=namespace, chunk_size=chunk_size):
                for data in chunk:
                    count += 1
                    closing += data.closing_balance
                    inconsistent += not data.consistent
                bar.update(len(chunk))
        if not period.is_closed():
            # the real run refuses a running month: a preview must not promise what it will not do
            self.say(
                f"dry run: {period} is not over yet, so issue_statements would refuse it; a draft of "
                f"{count} statement(s) so far, closing balances {closing}, inconsistent {inconsistent}; "
                "nothing written"
            )
            return
        self.say(
            f"dry run: would issue {count} statement(s) for {period} (accounts that already have one "
            f"included), closing balances {closing}, inconsistent {inconsistent}; nothing written"
        )

    def _report(self, result: Any) -> None:
        self.say(
            f"issued {len(result.issued)} statement(s); already issued {result.already_issued}; "
            f"not issued (ledger inconsistent) {len(result.inconsistent)}"
        )
        if result.inconsistent:
            raise CommandError(f"{len(result.inconsistent)} account(s) not issued: see the error log")
