"""``manage.py audit_ledger [--namespace NS] [--fix-report F.csv]``: does the money add up?

Runs ``usage.audit.ledger_audit`` (docs/billing.md, "Ledger audit"), prints a summary (a progress
bar on stderr), records the run, writes every offending row to a CSV and exits 1 on any finding
(2 for an unknown namespace)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from billing.models import Account
from config.commands import TallyCommand
from usage.audit import CHECKS, audit_run_record, findings_csv_write, ledger_entry_count


class Command(TallyCommand):
    help = (
        "Check every account: balance == sum of its ledger, no negative balance, paid usage records "
        "match their ledger entries, no period billed twice, every successful recharge credited "
        "once, every ledger entry has a subject. Exit 1 on any finding, offending rows to a CSV."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--namespace", help="audit one account only")
        parser.add_argument(
            "--fix-report",
            metavar="F.csv",
            help="where to write the offending rows (default: var/audit/ledger-audit-<time>.csv)",
        )

    def handle(self, *args: Any, namespace: str | None, fix_report: str | None, **options: Any) -> None:
        if namespace is not None and not Account.objects.filter(namespace=namespace).exists():
            raise CommandError(f"unknown namespace {namespace!r}", returncode=2)
        total = ledger_entry_count(namespace=namespace)
        with self.progress(total=total + 3, desc="auditing", unit="row") as bar:
            run, findings = audit_run_record(
                namespace=namespace, source="command", progress=lambda step, done: bar.update(done)
            )
        scope = f"account {namespace}" if namespace else f"{Account.objects.count()} account(s)"
        self.say(
            f"ledger audit of {scope}: {run.entries} ledger entries, {len(CHECKS)} checks "
            f"in {run.seconds:.1f} s (run {run.pk})"
        )
        counts = Counter(f.check for f in findings)
        width = max(len(c) for c in CHECKS)
        for check in CHECKS:
            self.say(f"  {check.ljust(width)}  {counts.get(check, 0)}")
        if not findings:
            self.say(self.style.SUCCESS("OK: no drift"))
            return
        path = Path(fix_report) if fix_report else self._default_report()
        rows = findings_csv_write(findings, path)
        self.say(self.style.ERROR(f"DRIFT: {rows} finding(s); offending rows in {path}"))
        for finding in findings[:10]:
            self.say(
                f"  {finding.check} {finding.object_type} {finding.object_id} {finding.namespace}: "
                f"expected {finding.expected}, found {finding.actual} {finding.detail}".rstrip()
            )
        raise CommandError(f"{rows} finding(s)", returncode=1)

    def _default_report(self) -> Path:
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
        return Path(settings.VAR_DIR) / "audit" / f"ledger-audit-{stamp}.csv"
