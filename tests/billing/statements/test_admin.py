"""Admin: statements read-only with lines and PDF, "issue now" with a reason for Finance, drafts,
and a balance adjustment marked as a correction."""

from __future__ import annotations

import hashlib
import importlib
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client
from django.urls import reverse

from billing.statements.models import CreditNote, Statement
from config.admin_tools import sync_finance_group
from tests.billing.statements.helpers import frozen, local, may_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance_client(django_user_model: Any) -> Client:
    user = django_user_model.objects.create_user(username="fiona", password="x", is_staff=True)
    user.groups.add(sync_finance_group())
    client = Client()
    client.force_login(user)
    return client


def _issue_now(
    client: Client, *, namespace: str, period: str = "2026-05", reason: str = "customer asked"
) -> Any:
    with frozen(local(2026, 6, 2)):
        return client.post(
            reverse("admin:billing_statement_issue"),
            {"namespace": namespace, "period": period, "reason": reason},
        )


def test_finance_issues_now_with_a_reason_and_reads_it(finance_client: Client) -> None:
    may_account("acme")
    resp = _issue_now(finance_client, namespace="acme", reason="")
    assert resp.status_code == 200 and b"required" in resp.content and not Statement.objects.exists()
    resp = _issue_now(finance_client, namespace="acme", period="2026-06")  # still running on June 2nd
    assert b"not over yet" in resp.content and not Statement.objects.exists()
    resp = _issue_now(finance_client, namespace="acme")
    st = Statement.objects.get()
    assert resp.status_code == 302 and resp["Location"] == reverse(
        "admin:billing_statement_change", args=[st.pk]
    )
    assert st.issue_reason == "customer asked" and st.issued_by.username == "fiona"
    again = _issue_now(finance_client, namespace="acme")
    assert again.status_code == 302 and Statement.objects.count() == 1  # already issued: shown, not reissued
    page = finance_client.get(reverse("admin:billing_statement_change", args=[st.pk]))
    assert page.status_code == 200
    assert b"PO-1" in page.content and b"Download PDF" in page.content and b'name="_save"' not in page.content
    changelist = finance_client.get(
        reverse("admin:billing_statement_changelist") + "?period=2026-05&status=issued"
    )
    assert st.number.encode() in changelist.content and b"Issue now" in changelist.content
    pdf = finance_client.get(reverse("admin:billing_statement_pdf", args=[st.pk]))
    pdf2 = finance_client.get(reverse("admin:billing_statement_pdf", args=[st.pk]))
    assert pdf["Content-Disposition"].startswith("attachment") and pdf.content == pdf2.content
    assert pdf["X-Content-SHA256"] == hashlib.sha256(pdf.content).hexdigest()
    # read-only for everyone: no change, no delete
    assert finance_client.post(reverse("admin:billing_statement_change", args=[st.pk]), {}).status_code == 403
    assert (
        finance_client.post(
            reverse("admin:billing_statement_delete", args=[st.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Statement.objects.filter(pk=st.pk).exists()


def test_without_the_permission_issue_now_is_refused(django_user_model: Any) -> None:
    may_account("acme")
    viewer = django_user_model.objects.create_user(username="v", password="x", is_staff=True)
    client = Client()
    client.force_login(viewer)
    assert _issue_now(client, namespace="acme").status_code == 403
    assert not Statement.objects.exists()


def test_the_draft_preview_shows_the_running_month(finance_client: Client) -> None:
    may_account("acme")
    with frozen(local(2026, 5, 28)):
        resp = finance_client.get(reverse("admin:billing_statement_draft") + "?namespace=acme")
    assert resp.status_code == 200 and b"DRAFT" in resp.content and b"69.5000" in resp.content
    assert not Statement.objects.exists()


def test_a_correction_adjustment_gets_a_credit_note(
    finance_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    account = may_account("acme")
    _issue_now(finance_client, namespace="acme")
    st = Statement.objects.get()
    url = reverse("admin:billing_account_adjust", args=[account.pk])
    with frozen(local(2026, 6, 3)), django_capture_on_commit_callbacks(execute=True):
        bad = finance_client.post(url, {"amount": "-2", "reason": "x", "corrects": st.number, "token": "t1"})
        assert b"must be positive" in bad.content
        bad = finance_client.post(
            url, {"amount": "2", "reason": "x", "corrects": "TLY-2026-999999", "token": "t2"}
        )
        assert b"has no statement" in bad.content
        ok = finance_client.post(url, {"amount": "2", "reason": "double charge", "corrects": f"{st.number}#2",
                                       "token": "t3"})  # fmt: skip
    assert ok.status_code == 302
    note = CreditNote.objects.get()
    assert note.statement == st and [ln.position for ln in note.lines.all()] == [2]
    page = finance_client.get(reverse("admin:billing_creditnote_change", args=[note.pk]))
    assert page.status_code == 200 and b"double charge" in page.content
    assert finance_client.get(reverse("admin:billing_creditnote_pdf", args=[note.pk])).content.startswith(
        b"%PDF-"
    )


def test_the_migration_grants_issue_now_to_finance() -> None:
    migration = importlib.import_module("orders.migrations.0007_finance_issue_statement")
    state_apps = MigrationLoader(connection).project_state(("orders", "0007_finance_issue_statement")).apps
    Group.objects.filter(name="Finance").delete()
    migration.grant(state_apps, None)
    migration.grant(state_apps, None)  # idempotent
    codenames = set(Group.objects.get(name="Finance").permissions.values_list("codename", flat=True))
    assert "issue_statement" in codenames
