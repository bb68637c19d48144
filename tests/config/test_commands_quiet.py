"""Every management command honours ``-v 0``: no bars, no summaries, no notes; data (a token, CSV,
JSON) still on stdout, errors still on stderr, the exit status unchanged (config/commands.py)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from config.dotenv import BASE_DIR

pytestmark = pytest.mark.django_db


def quiet(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, verbosity=0, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ("load_demo",),
        ("setup_periodic_tasks",),
        ("run_billing", "--at", "2026-04-09T18:00:00+08:00"),
        ("run_billing", "--dry-run"),
        ("audit_ledger",),
        ("sync_plans", "--file", str(BASE_DIR / "plans" / "demo_catalog.json")),
        ("issue_statements", "--period", "2026-10", "--dry-run"),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_quiet_command_prints_nothing(args, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    assert quiet(*args) == ("", "")


def test_quiet_batch_recharge_prints_nothing_but_its_rejects(tmp_path, make_user):
    from billing.services import account_get_or_create

    account_get_or_create(namespace="quiet-ns", member=make_user("quiet"))
    csv = tmp_path / "lines.csv"
    csv.write_text("namespace,amount,reference\nquiet-ns,10.00,Q-1\n")
    assert quiet("batch_recharge", str(csv)) == ("", "")


def test_data_is_written_at_every_verbosity(tmp_path: Path):
    out, err = quiet("create_api_user", "quiet-bob")
    assert err == "" and len(out.strip().splitlines()) == 1 and len(out.strip()) >= 20  # the token
    out, err = quiet("run_billing", "--dry-run", "--format", "json")
    assert err == "" and json.loads(out)["dry_run"] is True
    out, err = quiet("usage_report", "--period", "2026-11", "--format", "csv")
    assert err == "" and out.splitlines()[0].startswith(("order", "namespace", "account"))
