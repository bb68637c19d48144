"""A statement in a real browser: Finance opens it in the admin, downloads the PDF, and pdftoppm
renders page 1 to ``docs/screenshots/statement.png`` (the document a customer receives)."""

from __future__ import annotations

import hashlib
import importlib
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as django_apps

from billing.quota import quota_deduct
from billing.services import account_adjust, account_credit, account_get_or_create
from billing.statements.models import DocumentPdf, Statement
from billing.statements.periods import parse_period
from billing.statements.services import candidates, statements_issue_for
from config.celery import app as celery_app
from orders.purchase.services import purchase_order_cancel, purchase_order_create
from tests.billing.statements.helpers import frozen, local
from tests.e2e.conftest import SCREENSHOTS, login, screenshot, screenshots_wanted
from tests.orders.purchase.helpers import make_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAY = parse_period("2026-05")


def _seed_may(staff: Any) -> Statement:
    """A month of a real customer: recharges, two orders (one canceled with a refund), metered calls
    beyond the free quota, a goodwill adjustment; issued on June 1st."""
    celery_app.loader.import_default_modules()  # tasks sent by name run eagerly here
    # A transactional test before this one flushed the migration's seed rows: put them back.
    seed = importlib.import_module("plans.migrations.0002_seed_metered_services")
    seed.create_services(django_apps, None)
    make_plan("vol-50g", "31")
    make_plan("vol-100g", "58")
    with frozen(local(2026, 4, 28)):
        account = account_get_or_create(namespace="acme-corp")
        account_credit(
            account_id=account.pk,
            amount=Decimal("120"),
            idempotency_key="april",
            subject=("recharge", "R2026042801"),
        )
    with frozen(local(2026, 5, 2, 9)):
        account_credit(
            account_id=account.pk,
            amount=Decimal("500"),
            idempotency_key="may",
            subject=("recharge", "R2026050209"),
        )
        small = purchase_order_create(
            account=account, creator=staff, region="cn-north-1", plan_id="vol-50g"
        ).order
    with frozen(local(2026, 5, 6, 15)):
        big = purchase_order_create(account=account, creator=staff, region="cn-north-1", plan_id="vol-100g",
                                    resource_name="db-backup").order  # fmt: skip
    for day in range(3, 28, 6):
        with frozen(local(2026, 5, day, 11)):
            quota_deduct(account_id=account.pk, service="passport", count=4000, request_id=f"pp-{day}")
            quota_deduct(account_id=account.pk, service="payment", count=300, request_id=f"pay-{day}")
    with frozen(local(2026, 5, 20, 10)):
        purchase_order_cancel(order_pk=small.pk, actor=staff, refund_unused=True, reason="moved to vol-100g")
    with frozen(local(2026, 5, 25, 16)):
        account_adjust(account_id=account.pk, amount=Decimal("5"), reason="goodwill: outage on May 24",
                       actor=staff, idempotency_key="gw")  # fmt: skip
    assert big.order_id
    with frozen(local(2026, 6, 1, 1, 30)):
        [statement] = statements_issue_for(accounts=candidates(period=MAY), period=MAY).issued
    return statement


def test_finance_opens_a_statement_and_downloads_its_pdf(
    live_server: Any, page: Any, finance_user: Any, tmp_path: Path
) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is absent (apt-get install poppler-utils)")
    statement = _seed_may(finance_user)
    stored = DocumentPdf.objects.get(number=statement.number)  # rendered by the task after issue

    login(page, live_server.url, "fiona", "pass-fiona")
    page.goto(f"{live_server.url}/admin/billing/statement/?period=2026-05")
    page.click(f"text={statement.number}")
    page.wait_for_selector("#lines-group")
    assert page.locator("#lines-group tbody tr.has_original").count() == statement.lines.count()
    assert page.locator("text=vol-100g").count() + page.locator("text=Purchase order").count() > 0
    screenshot(page, "statement-admin")
    with page.expect_download() as info:
        page.click("a.tally-statement-pdf >> nth=0")
    pdf_path = tmp_path / f"{statement.number}.pdf"
    info.value.save_as(str(pdf_path))
    content = pdf_path.read_bytes()
    assert content.startswith(b"%PDF-")
    assert hashlib.sha256(content).hexdigest() == stored.sha256  # the stored bytes, not a re-render

    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "110",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf_path),
            str(tmp_path / "p1"),
        ],
        check=True,
        timeout=60,
    )
    png = tmp_path / "p1.png"
    assert png.stat().st_size > 10_000
    if screenshots_wanted():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, SCREENSHOTS / "statement.png")
