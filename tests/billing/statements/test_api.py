"""The statements and credit-notes API: lists, JSON, PDF bytes, drafts, tenancy, bad input."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import pytest

from billing.models import Account
from billing.services import account_refund
from billing.statements.models import DocumentPdf, Statement
from billing.statements.services import candidates, statements_issue_for
from tests.billing.statements.helpers import MAY, frozen, local, may_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(user: Any, django_capture_on_commit_callbacks: Any) -> Statement:
    account = may_account(user.username)
    account.members.add(user)
    with frozen(local(2026, 6, 1, 1)), django_capture_on_commit_callbacks(execute=True):
        [st] = statements_issue_for(accounts=candidates(period=MAY), period=MAY).issued
    return st


def test_list_and_detail(api: Any, issued: Statement) -> None:
    body = api.get("/api/v1/billing/statements?period=2026-05").json()
    assert body["code"] == 0 and body["data"]["total"] == 1
    row = body["data"]["results"][0]
    assert row["number"] == issued.number and row["closing_balance"] == "69.5000"
    assert row["pdf_sha256"] == DocumentPdf.objects.get(number=issued.number).sha256
    assert api.get("/api/v1/billing/statements?period=2026-04").json()["data"]["total"] == 0
    detail = api.get(f"/api/v1/billing/statements/{issued.number}").json()["data"]
    assert detail["opening_balance"] == "90.0000" and detail["period"] == "2026-05"
    assert [ln["position"] for ln in detail["lines"]] == list(range(1, 7))
    assert detail["lines"][1]["group_id"] == "PO-1" and detail["lines"][1]["amount"] == "-60.0000"
    assert detail["draft"] is False and detail["corrections"] == []


def test_pdf_bytes_are_stored_and_stable(api: Any, issued: Statement) -> None:
    first = api.get(f"/api/v1/billing/statements/{issued.number}.pdf")
    second = api.get(f"/api/v1/billing/statements/{issued.number}.pdf")
    assert first.status_code == 200 and first["Content-Type"] == "application/pdf"
    assert first.content.startswith(b"%PDF-") and first.content == second.content
    digest = hashlib.sha256(first.content).hexdigest()
    assert first["X-Content-SHA256"] == digest == DocumentPdf.objects.get(number=issued.number).sha256


def test_another_tenants_number_is_404(make_user: Any, client_for: Any, issued: Statement) -> None:
    other = client_for(make_user("mallory"))
    for url in (
        f"/api/v1/billing/statements/{issued.number}",
        f"/api/v1/billing/statements/{issued.number}.pdf",
    ):
        resp = other.get(url)
        assert resp.status_code == 404 and resp.json()["code"] == 190601
    assert other.get("/api/v1/billing/statements").json()["data"]["total"] == 0
    resp = other.get(f"/api/v1/billing/statements?namespace={issued.namespace}")
    assert resp.status_code == 403
    assert other.get("/api/v1/billing/credit-notes/TLY-CN-2026-000001").json()["code"] == 190602


def test_bad_period_is_a_field_error(api: Any) -> None:
    for bad in ("2026-13", "May", "2026-5"):
        resp = api.get(f"/api/v1/billing/statements?period={bad}")
        body = resp.json()
        assert resp.status_code == 400 and body["code"] == 190101 and "period" in body["data"]["errors"]


def test_draft_of_the_running_month_writes_nothing(api: Any, user: Any) -> None:
    account = may_account(user.username)
    account.members.add(user)
    with frozen(local(2026, 5, 20)):
        resp = api.get("/api/v1/billing/statements/draft")
    data = resp.json()["data"]
    assert resp.status_code == 200 and data["draft"] is True and data["number"] is None
    assert data["period"] == "2026-05" and data["opening_balance"] == "90.0000"
    assert data["closing_balance"] == "69.5000" and len(data["lines"]) == 6  # everything posted so far
    assert Statement.objects.count() == 0


def test_credit_notes_api(
    api: Any, user: Any, issued: Statement, django_capture_on_commit_callbacks: Any
) -> None:
    account = Account.objects.get(pk=issued.account_id)
    with frozen(local(2026, 6, 3)), django_capture_on_commit_callbacks(execute=True):
        account_refund(
            account_id=account.pk,
            amount=Decimal("3"),
            idempotency_key="api-r",
            subject=("purchase_order", "PO-2"),
            memo="partial refund",
        )
    body = api.get("/api/v1/billing/credit-notes?period=2026-05").json()["data"]
    assert body["total"] == 1
    note = body["results"][0]
    assert (
        note["statement"] == issued.number
        and note["amount"] == "3.0000"
        and note["reason"] == "partial refund"
    )
    assert note["corrected_lines"] == [3]  # the charge line of PO-2
    detail = api.get(f"/api/v1/billing/credit-notes/{note['number']}").json()["data"]
    assert detail["number"] == note["number"]
    pdf = api.get(f"/api/v1/billing/credit-notes/{note['number']}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert api.get(f"/api/v1/billing/statements/{issued.number}").json()["data"]["corrections"] == [
        note["number"]
    ]
    # PO-1 was last charged in June: a refund of it corrects June, which is not issued: no credit note
    with frozen(local(2026, 6, 4)), django_capture_on_commit_callbacks(execute=True):
        account_refund(
            account_id=account.pk,
            amount=Decimal("1"),
            idempotency_key="x",
            subject=("purchase_order", "PO-1"),
        )
    assert api.get("/api/v1/billing/credit-notes").json()["data"]["total"] == 1
