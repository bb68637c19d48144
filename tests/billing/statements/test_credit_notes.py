"""Credit notes: money given back for a month already on an issued statement, by every refund path."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from billing.models import LedgerEntry
from billing.services import account_adjust, account_charge, account_get_or_create, account_refund
from billing.statements.credit_notes import correction_subject, credit_notes_sweep
from billing.statements.models import CreditNote, DocumentPdf, Statement
from billing.statements.render import document_pdf
from billing.statements.services import candidates, statements_issue_for
from billing.tenancy import personal_account
from orders.package.instances import instance_change_config
from orders.package.lifecycle import instance_stop
from orders.package.services import package_order_charge
from orders.package.specs import ComponentChange
from orders.purchase.services import purchase_order_cancel, purchase_order_create
from orders.vehicle.services import vehicle_order_cancel, vehicle_order_pay
from tests.billing.statements.helpers import JUNE, MAY, frozen, local
from tests.orders.package.factories import create_order, funded_account, make_catalog
from tests.orders.purchase.helpers import fund, make_plan
from tests.orders.vehicle.factories import fund as fund_user
from tests.orders.vehicle.factories import make_plan_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run on-commit work (the credit-note task, PDFs, notifications) as production would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def sent(monkeypatch: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def fake_send(*, payload: dict[str, Any]) -> bool:
        out.append(payload)
        return True

    monkeypatch.setattr("orders.purchase.notify.notify_send", fake_send)
    return out


def _issue(run_on_commit: Any, period: Any = MAY, at: Any = None) -> list[Statement]:
    with frozen(at or local(2026, 6, 1, 0, 5)), run_on_commit():
        return statements_issue_for(accounts=candidates(period=period), period=period).issued


def _snapshot(st: Statement) -> tuple[Any, ...]:
    st = Statement.objects.get(pk=st.pk)
    lines = list(st.lines.order_by("position").values_list("position", "kind", "group_id", "amount"))
    return (st.number, st.opening_balance, st.closing_balance, st.total_refunds, lines)


def test_admin_cancel_with_refund_after_issue_gives_a_credit_note(
    staff_user: Any, user: Any, run_on_commit: Any, sent: list[dict[str, Any]]
) -> None:
    make_plan("vol", "31")
    with frozen(local(2026, 5, 10)), run_on_commit():
        account = account_get_or_create(namespace=user.username, member=user)
        fund(account, "100")
        order = purchase_order_create(account=account, creator=user, region="cn-north-1", plan_id="vol").order
    [st] = _issue(run_on_commit)
    before = _snapshot(st)
    pdf_before = document_pdf(st.number)
    with frozen(local(2026, 6, 5)), run_on_commit():
        _, refund = purchase_order_cancel(
            order_pk=order.pk,
            actor=staff_user,
            refund_unused=True,
            reason="customer left, refund unused days",
        )
    assert refund > 0
    note = CreditNote.objects.get()
    assert note.number == "TLY-CN-2026-000001" and note.statement == st
    assert note.amount == refund and note.actor == staff_user
    assert note.reason == "customer left, refund unused days"
    assert note.ledger_entry.kind == "refund" and note.ledger_entry.amount == refund
    assert [ln.group_id for ln in note.lines.all()] == [order.order_id]
    assert _snapshot(st) == before  # the statement is untouched
    again = document_pdf(st.number)
    assert bytes(again.content) == bytes(pdf_before.content) and again.sha256 == pdf_before.sha256
    assert DocumentPdf.objects.filter(number=note.number).exists()  # rendered after commit
    documents = [p["event"] for p in sent if p["event"] in ("statement_issued", "credit_note_issued")]
    assert documents == ["statement_issued", "credit_note_issued"]
    [note_sent] = [p for p in sent if p["event"] == "credit_note_issued"]
    assert note_sent["credit_note"]["statement"] == st.number and note_sent["credit_note"]["amount"] == str(
        refund
    )
    # June's statement lists it (and shows the refund as a line of June)
    [june] = _issue(run_on_commit, JUNE, local(2026, 7, 1, 2))
    assert [c["number"] for c in june.credit_notes] == [note.number]
    assert june.total_refunds == refund


def test_a_refund_in_the_same_month_needs_no_credit_note(run_on_commit: Any) -> None:
    with frozen(local(2026, 5, 3)), run_on_commit():
        account = funded_account("same", "50")
        account_charge(
            account_id=account.pk, amount=Decimal("20"), idempotency_key="c", subject=("purchase_order", "P1")
        )
        account_refund(
            account_id=account.pk, amount=Decimal("5"), idempotency_key="r", subject=("purchase_order", "P1")
        )
    _issue(run_on_commit)
    assert not CreditNote.objects.exists()


def test_a_refund_before_the_statement_is_issued_gets_its_note_at_issue(run_on_commit: Any) -> None:
    with frozen(local(2026, 5, 3)), run_on_commit():
        account = funded_account("late", "50")
        account_charge(
            account_id=account.pk, amount=Decimal("20"), idempotency_key="c", subject=("purchase_order", "P1")
        )
    with frozen(local(2026, 6, 1, 0, 1)), run_on_commit():  # May is over, its statement not yet issued
        account_refund(
            account_id=account.pk, amount=Decimal("5"), idempotency_key="r", subject=("purchase_order", "P1")
        )
    assert not CreditNote.objects.exists()
    [st] = _issue(run_on_commit, at=local(2026, 6, 1, 1, 30))
    note = CreditNote.objects.get()
    assert note.statement == st and note.amount == Decimal("5")
    assert credit_notes_sweep() == 0  # nothing left for the sweep; running it twice creates nothing


def test_the_sweep_repairs_a_lost_credit_note_task(
    run_on_commit: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with frozen(local(2026, 5, 3)), run_on_commit():
        account = funded_account("lost", "50")
        account_charge(
            account_id=account.pk, amount=Decimal("20"), idempotency_key="c", subject=("purchase_order", "P1")
        )
    _issue(run_on_commit)
    with frozen(local(2026, 6, 2)), django_capture_on_commit_callbacks(execute=False):  # the task never runs
        account_refund(
            account_id=account.pk, amount=Decimal("5"), idempotency_key="r", subject=("purchase_order", "P1")
        )
    assert not CreditNote.objects.exists()
    with frozen(local(2026, 6, 3)), run_on_commit():
        assert credit_notes_sweep() == 1
        assert credit_notes_sweep() == 0
    assert CreditNote.objects.get().amount == Decimal("5")


def test_vehicle_refund_after_issue(user: Any, run_on_commit: Any) -> None:
    with frozen(local(2026, 5, 20)), run_on_commit():
        fund_user(user, "2000")
        order = make_plan_order(user, prices=("1000.00",))
        vehicle_order_pay(order_id=order.order_id, actor=user)
    [st] = _issue(run_on_commit)
    with frozen(local(2026, 6, 2)), run_on_commit():
        vehicle_order_cancel(order_id=order.order_id, actor=user, reason="changed my mind")
    note = CreditNote.objects.get()
    assert note.statement == st and note.amount == Decimal("1000.00") and note.actor == user
    assert [ln.group_type for ln in note.lines.all()] == ["vehicle_order"]
    assert personal_account(user).balance == Decimal("2000")


@pytest.mark.parametrize("how", ["stop", "change-config"])
def test_package_hourly_refunds_after_issue(how: str, user: Any, run_on_commit: Any) -> None:
    make_catalog()
    paid_at = local(2026, 5, 31, 23, 40)
    with frozen(paid_at), run_on_commit():
        account = funded_account("pkg", "1000")
        res = create_order(account, ext="i-9", cpu="4", at=paid_at)
        package_order_charge(order_pk=res.order.pk, at=paid_at)
    [st] = _issue(run_on_commit, at=local(2026, 6, 1, 0, 5))
    at = paid_at + timedelta(minutes=30)  # 00:10 on June 1st: 30 minutes of the paid hour unused
    with frozen(at), run_on_commit():
        if how == "stop":
            instance_stop(prod_inst_id_ext="i-9", at=at, actor=user)
        else:
            change = ComponentChange("cpu", {"cpu": "2"})
            instance_change_config(
                prod_inst_id_ext="i-9", plan_id="vm-std", changes=[change], at=at, actor=user
            )
    refund = LedgerEntry.objects.get(account=account, kind="refund")
    note = CreditNote.objects.get()
    assert note.statement == st and note.ledger_entry == refund and note.amount == refund.amount > 0
    assert note.actor == user
    [line] = note.lines.all()
    assert line.group_type == "package_order" and line.group_id == res.order.order_id
    assert line.details and {d["instance"] for d in line.details} == {"i-9"}


def test_a_manual_adjustment_marked_as_correction(staff_user: Any, run_on_commit: Any) -> None:
    with frozen(local(2026, 5, 3)), run_on_commit():
        account = funded_account("adj", "50")
        account_charge(
            account_id=account.pk, amount=Decimal("20"), idempotency_key="c", subject=("purchase_order", "P1")
        )
    [st] = _issue(run_on_commit)
    with frozen(local(2026, 6, 4)), run_on_commit():
        account_adjust(
            account_id=account.pk, amount=Decimal("2.5"), reason="overcharged on line 2", actor=staff_user,
            idempotency_key="fix", subject=correction_subject(number=st.number, position=2),
        )  # fmt: skip
        account_adjust(  # an adjustment that is no correction gets no credit note
            account_id=account.pk,
            amount=Decimal("1"),
            reason="goodwill",
            actor=staff_user,
            idempotency_key="gw",
        )
    note = CreditNote.objects.get()
    assert note.statement == st and note.amount == Decimal("2.5") and note.reason == "overcharged on line 2"
    assert [ln.position for ln in note.lines.all()] == [2] and note.actor == staff_user
