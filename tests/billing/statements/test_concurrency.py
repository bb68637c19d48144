"""Gap-free numbering under 8 concurrent issuers (MariaDB: real row locks, real connections)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from billing.models import LedgerEntry
from billing.services import account_charge, account_get_or_create, account_refund
from billing.statements.credit_notes import credit_note_for_entry
from billing.statements.models import CreditNote, Statement
from billing.statements.services import candidates, statements_issue_for, statements_issue_run
from tests.billing.statements.helpers import MAY, frozen, local, may_account
from tests.conftest import mariadb_only

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]

WORKERS = 8


def _run(jobs: list[Callable[[], Any]]) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def wrap(job: Callable[[], Any]) -> None:
        try:
            start.wait()
            job()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def _assert_gap_free(sequences: list[int]) -> None:
    assert sorted(sequences) == list(range(1, len(sequences) + 1)), sorted(sequences)


def test_eight_issuers_number_every_statement_once_without_gaps() -> None:
    accounts = [may_account(f"acc{i}") for i in range(40)]
    refs = candidates(period=MAY)
    assert len(refs) == 40
    at = local(2026, 6, 1, 1, 30)

    def batch_worker() -> None:
        statements_issue_run(period=MAY, chunk_size=3)

    def single_issuer(seed: int) -> Callable[[], None]:
        def job() -> None:
            order = list(refs)
            random.Random(seed).shuffle(order)
            for ref in order[:15]:
                statements_issue_for(accounts=[ref], period=MAY)

        return job

    jobs: list[Callable[[], Any]] = [batch_worker] * 4 + [single_issuer(i) for i in range(4)]
    with frozen(at):  # patched once around all threads (a patch per thread would race on restore)
        assert _run(jobs) == []
    rows = list(Statement.objects.values_list("account_id", "sequence", "number"))
    assert sorted(r[0] for r in rows) == sorted(a.pk for a in accounts)  # one per account
    _assert_gap_free([r[1] for r in rows])
    assert len({r[2] for r in rows}) == 40


def test_eight_concurrent_credit_notes_are_numbered_without_gaps() -> None:
    with frozen(local(2026, 5, 5)):
        account = account_get_or_create(namespace="cn")
        from billing.services import account_credit

        account_credit(account_id=account.pk, amount=Decimal("1000"), idempotency_key="fund")
        for i in range(WORKERS * 3):
            account_charge(account_id=account.pk, amount=Decimal("10"), idempotency_key=f"c{i}",
                           subject=("purchase_order", f"P{i}"))  # fmt: skip
    with frozen(local(2026, 6, 1, 1)):
        statements_issue_for(accounts=candidates(period=MAY), period=MAY)
    with frozen(local(2026, 6, 2)):
        for i in range(WORKERS * 3):
            account_refund(account_id=account.pk, amount=Decimal("1"), idempotency_key=f"r{i}",
                           subject=("purchase_order", f"P{i}"))  # fmt: skip
    refunds = list(LedgerEntry.objects.filter(kind="refund").values_list("pk", flat=True))

    def worker(seed: int) -> Callable[[], None]:
        def job() -> None:
            mine = list(refunds)
            random.Random(seed).shuffle(mine)  # every worker tries every refund: one note each
            for pk in mine:
                credit_note_for_entry(entry_id=pk)

        return job

    with frozen(local(2026, 6, 3)):
        assert _run([worker(i) for i in range(WORKERS)]) == []
    notes = list(CreditNote.objects.values_list("ledger_entry_id", "sequence"))
    assert sorted(n[0] for n in notes) == sorted(refunds)
    _assert_gap_free([n[1] for n in notes])
