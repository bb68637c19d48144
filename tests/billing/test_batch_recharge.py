from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import Account, LedgerEntry
from tests.billing.factories import funded_account, ledger_sum

pytestmark = pytest.mark.django_db

MIXED = """namespace,amount,reference,memo
acme,100.00,BANK-1,January transfer
acme,abc,BANK-2
ghost,5,BANK-3
beta,0.12345,BANK-4
beta,-3,BANK-5
beta,25.5,BANK-6
acme,1,DUP
beta,2,DUP
acme,1
beta,7.25,BANK-7,
"""


def run(tmp_path, text: str, *args: str) -> tuple[str, str, int]:
    path = tmp_path / "batch.csv"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("batch_recharge", str(path), *args, stdout=out, stderr=err)
    except CommandError as exc:
        code = exc.returncode
        err.write(str(exc))
    return out.getvalue(), err.getvalue(), code


@pytest.fixture
def accounts():
    return funded_account("acme"), funded_account("beta")


def test_mixed_file_reports_each_bad_line_and_applies_the_good_ones(tmp_path, accounts, staff_user):
    out, err, code = run(tmp_path, MIXED, "--actor", staff_user.username)
    assert code == 1
    assert "line 3: bad amount 'abc': not a number" in err
    assert "line 4: unknown namespace 'ghost'" in err
    assert "line 5: bad amount '0.12345': more than 4 decimals" in err
    assert "line 6: bad amount '-3': must be > 0" in err
    assert "line 8: duplicate reference 'DUP' in the file" in err
    assert "line 9: duplicate reference 'DUP' in the file" in err
    assert "line 10: expected 3 or 4 columns" in err
    assert "applied 3, already applied 0, rejected 7, total lines 10, money applied 132.75" in out
    acme, beta = (Account.objects.get(namespace=n) for n in ("acme", "beta"))
    assert acme.balance == Decimal("100") == ledger_sum(acme)
    assert beta.balance == Decimal("32.75") == ledger_sum(beta)
    entry = LedgerEntry.objects.get(idempotency_key="batch:BANK-1")
    assert entry.actor == staff_user and entry.memo == "January transfer" and entry.kind == "recharge"


def test_rerun_applies_nothing_twice(tmp_path, accounts):
    run(tmp_path, MIXED)
    out, _, code = run(tmp_path, MIXED)
    assert code == 1
    assert "applied 0, already applied 3, rejected 7" in out
    assert LedgerEntry.objects.count() == 3
    assert Account.objects.get(namespace="beta").balance == Decimal("32.75")


def test_dry_run_validates_only(tmp_path, accounts):
    out, err, code = run(tmp_path, MIXED, "--dry-run")
    assert code == 1 and "line 3:" in err
    assert "dry run: 3 valid (132.75), 7 rejected, 10 total; nothing applied" in out
    assert LedgerEntry.objects.count() == 0


def test_clean_file_exits_zero(tmp_path, accounts):
    out, err, code = run(tmp_path, "acme,1.5,T-1\nbeta,2,T-2,memo\n")
    assert code == 0 and "applied 2, already applied 0, rejected 0, total lines 2, money applied 3.5" in out


def test_unknown_actor_and_missing_file(tmp_path, accounts):
    with pytest.raises(CommandError, match="unknown actor"):
        call_command("batch_recharge", str(tmp_path / "x.csv"), "--actor", "nobody")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("batch_recharge", str(tmp_path / "missing.csv"))
