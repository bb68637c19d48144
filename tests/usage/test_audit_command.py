"""``manage.py audit_ledger``, the nightly job that records its result, the admin readout, and the
audit racing real postings on MariaDB (no false drift)."""

from __future__ import annotations

import csv
import threading
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from billing.models import Account
from billing.services import account_charge, account_credit, account_get_or_create
from config.exceptions import InsufficientFunds
from orders.jobs import jobs_run
from tests.conftest import mariadb_only
from tests.orders.purchase.helpers import local
from usage.audit import CHECKS, ledger_audit
from usage.models import AuditRun

pytestmark = pytest.mark.django_db


def funded(namespace: str, amount: str = "100") -> Account:
    acc = account_get_or_create(namespace=namespace)
    account_credit(
        account_id=acc.pk, amount=Decimal(amount), idempotency_key="f", subject=("test", namespace)
    )
    return acc


def audit(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("audit_ledger", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


def test_clean_books_exit_0_with_a_summary_and_a_recorded_run(tmp_path):
    funded("a")
    funded("b")
    code, out, err = audit("--fix-report", str(tmp_path / "r.csv"))
    assert code == 0 and "OK: no drift" in out
    assert "ledger audit of 2 account(s): 2 ledger entries, 10 checks" in out
    assert all(f"{check}" in out for check in CHECKS)
    assert "auditing" in err  # the progress bar, on stderr
    assert not (tmp_path / "r.csv").exists()
    run = AuditRun.objects.get()
    assert (run.source, run.ok, run.entries, run.namespace) == ("command", True, 2, "")


def test_drift_exits_1_and_writes_every_offending_row(tmp_path):
    a, b = funded("a"), funded("b")
    Account.objects.filter(pk__in=[a.pk, b.pk]).update(balance=Decimal("99.9999"))
    report = tmp_path / "out" / "drift.csv"
    code, out, _ = audit("--fix-report", str(report))
    assert code == 1 and "DRIFT: 2 finding(s)" in out and str(report) in out
    rows = list(csv.DictReader(report.open()))
    assert {(r["check"], r["namespace"], r["expected"], r["actual"]) for r in rows} == {
        ("balance_mismatch", "a", "100.0000", "99.9999"),
        ("balance_mismatch", "b", "100.0000", "99.9999"),
    }
    code, out, _ = audit("--namespace", "a", "--fix-report", str(tmp_path / "a.csv"))
    assert code == 1 and len(list(csv.DictReader((tmp_path / "a.csv").open()))) == 1
    run = AuditRun.objects.order_by("-id").first()
    assert run.namespace == "a" and run.counts["balance_mismatch"] == 1 and not run.ok
    assert run.sample[0]["check"] == "balance_mismatch"


def test_default_report_goes_under_var(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    acc = funded("a")
    Account.objects.filter(pk=acc.pk).update(balance=Decimal("1"))
    code, out, _ = audit()
    assert code == 1
    (report,) = (tmp_path / "audit").glob("ledger-audit-*.csv")
    assert str(report) in out


def test_unknown_namespace_is_exit_2():
    code, _, err = audit("--namespace", "nobody")
    assert code == 2 and "unknown namespace" in err


def test_nightly_job_records_the_result_and_the_dashboard_shows_it(admin_client):
    acc = funded("a")
    page = admin_client.get("/admin/dashboard/").content.decode()
    assert 'id="kpi-ledger-audit"' in page and "never" in page
    (outcome,) = jobs_run(at=local(2026, 5, 1, 3) + timedelta(minutes=30), only=["ledger_audit"])
    assert outcome.result == {"findings": 0, "entries": 1}
    run = AuditRun.objects.get()
    assert run.source == "beat" and run.started_at == local(2026, 5, 1, 3) + timedelta(minutes=30)
    page = admin_client.get("/admin/dashboard/").content.decode()
    assert "OK" in page and f"/admin/usage/auditrun/{run.pk}/change/" in page
    Account.objects.filter(pk=acc.pk).update(balance=Decimal("7"))
    jobs_run(at=local(2026, 5, 2, 3) + timedelta(minutes=30), only=["ledger_audit"])
    page = admin_client.get("/admin/dashboard/").content.decode()
    assert "1 finding(s)" in page
    assert admin_client.get(f"/admin/usage/auditrun/{run.pk}/change/").status_code == 200
    assert admin_client.get("/admin/usage/auditrun/").status_code == 200


# --- MariaDB: audits racing postings and each other ---------------------------------------------------


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_audits_racing_postings_and_each_other_report_no_false_drift():
    accounts = [funded(f"race{i}", "1000") for i in range(4)]
    stop = threading.Event()
    errors: list[BaseException] = []
    results: list[list] = []

    def post(n: int) -> None:
        try:
            i = 0
            while not stop.is_set():
                acc = accounts[(n + i) % len(accounts)]
                try:
                    account_charge(
                        account_id=acc.pk,
                        amount=Decimal("0.01"),
                        idempotency_key=f"c{n}-{i}",
                        subject=("t", n),
                    )
                    account_credit(
                        account_id=acc.pk,
                        amount=Decimal("0.01"),
                        idempotency_key=f"r{n}-{i}",
                        subject=("t", n),
                    )
                except InsufficientFunds:
                    pass
                i += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    def auditor() -> None:
        try:
            for _ in range(5):
                results.append(ledger_audit())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    posters = [threading.Thread(target=post, args=(n,)) for n in range(4)]
    auditors = [threading.Thread(target=auditor) for _ in range(2)]
    for t in posters + auditors:
        t.start()
    for t in auditors:
        t.join(300)
    stop.set()
    for t in posters:
        t.join(60)
    assert not errors, errors
    assert len(results) == 10 and all(r == [] for r in results), [r for r in results if r]
    assert ledger_audit() == []


def test_csv_header_is_the_finding_fields(tmp_path):
    from usage.audit import Finding, findings_csv_write

    path = Path(tmp_path) / "x.csv"
    assert findings_csv_write([], path) == 0
    assert path.read_text().strip().split(",") == list(Finding.__dataclass_fields__)
