"""Finance flows in a real browser: dashboard charts, balance adjustment, sandbox recharge."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings

from billing.models import Account, LedgerEntry, LedgerKind, RechargeOrder, RechargeStatus
from billing.recharges import recharge_create
from billing.services import account_charge, account_credit, account_get_or_create, account_refund
from tests.e2e.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _seed_dashboard() -> None:
    """A month of charges and refunds, usage on three plans, two accounts in arrears, one failed renewal."""
    from datetime import timedelta

    from config.clock import month_of, month_start_utc
    from config.clock import now as clock_now
    from orders.models import PurchaseOrder, PurchaseOrderEvent, PurchaseOrderStatus
    from plans.models import Plan
    from usage.models import UsageRecord

    now = clock_now()
    account = account_get_or_create(namespace="acme")
    account_credit(account_id=account.pk, amount=Decimal("50000"), idempotency_key="seed")
    for day in range(30):
        amount = Decimal(40 + (day * 37) % 160)
        entry = account_charge(account_id=account.pk, amount=amount, idempotency_key=f"c{day}").entry
        LedgerEntry.objects.filter(pk=entry.pk).update(created_at=now - timedelta(days=day))
        if day % 9 == 4:
            back = account_refund(account_id=account.pk, amount=amount / 2, idempotency_key=f"r{day}").entry
            LedgerEntry.objects.filter(pk=back.pk).update(created_at=now - timedelta(days=day))
    start = month_start_utc(month_of(now))
    plans = [
        Plan.objects.create(plan_id=p, name=p, plan_type="volume") for p in ("vol-50g", "vol-100g", "gpu-a10")
    ]
    others = [account_get_or_create(namespace=n) for n in ("beta", "gamma")]
    line = 0
    for i, plan in enumerate(plans):
        for k in range(3 + i):
            line += 1
            owner = others[k % 2] if k < 2 and i == 2 else account
            UsageRecord.objects.create(
                account=owner,
                source="purchase",
                order_ref=f"PO{line}",
                line_id=line,
                period_key=f"p:{line}",
                plan=plan,
                period_start=start + timedelta(hours=line),
                period_end=start + timedelta(hours=line + 1),
                unit_price=Decimal(25 * (i + 1)),
                amount=Decimal(25 * (i + 1)),
                kind="new",
                status="arrears" if owner is not account else "paid",
                paid_at=start + timedelta(hours=line) if owner is account else None,  # money moved then
            )
    order = PurchaseOrder.objects.create(
        order_id="PO-RF-1",
        account=others[0],
        region="cn-north-1",
        plan=plans[0],
        resource_name="db-main",
        start_time=now - timedelta(days=30),
        deadline=now,
        status=PurchaseOrderStatus.RENEWALFAILED,
    )
    PurchaseOrderEvent.objects.create(
        order=order,
        time=now,
        from_status=PurchaseOrderStatus.CONSUMING,
        to_status=PurchaseOrderStatus.RENEWALFAILED,
        reason="insufficient_balance",
    )


def test_finance_user_sees_the_dashboard_charts(page: Any, live_server: Any, finance_user: Any) -> None:
    from config.display import money_text
    from config.report_periods import report_period
    from usage.selectors import usage_report

    _seed_dashboard()

    def revenue(period: Any) -> Decimal:
        moved = LedgerEntry.objects.filter(
            kind__in=[LedgerKind.CHARGE, LedgerKind.REFUND],
            created_at__gte=period.start,
            created_at__lt=period.end,
        )
        return -sum(moved.values_list("amount", flat=True), Decimal(0))

    this, last = report_period({}), report_period({"period": "last_month"})
    login(page, live_server.url, "fiona", "pass-fiona")
    page.click("#tally-dashboard-link a")
    page.wait_for_selector("#chart-revenue")
    assert page.locator("#chart-revenue rect.tally-bar").count() == len(this.days)
    assert page.locator("#chart-revenue .tally-grid").count() >= 3  # gridlines with ticks
    assert page.locator("#chart-revenue .tally-axis-label").first.text_content() == "Revenue (CNY)"
    assert page.locator("#chart-consumption rect.tally-bar").count() == 3
    assert page.locator("#kpi-revenue strong").inner_text() == money_text(revenue(this))
    report = usage_report(start=this.start, end=this.end)
    assert page.locator("#kpi-consumption strong").inner_text() == money_text(report.total)  # = the report
    assert page.locator("#kpi-arrears strong").inner_text() == "2"
    assert page.locator("#kpi-renewals-failed strong").inner_text() == "1"
    assert "PO-RF-1" in page.locator("#renewals-failed").inner_text()
    screenshot(page, "dashboard", full_page=True)

    page.click("#period-last-month")
    page.wait_for_selector("#period-last-month.current")
    assert page.locator("#chart-revenue rect.tally-bar").count() == len(last.days)
    assert page.locator("#kpi-revenue strong").inner_text() == money_text(revenue(last))
    page.fill("#period-from", str(this.last_day))
    page.fill("#period-to", str(this.last_day))
    page.click("#period-show")
    page.wait_for_url("**period=custom**")
    assert page.locator("#chart-revenue rect.tally-bar").count() == 1


def test_finance_user_adjusts_a_balance_and_sees_the_ledger_entry(
    page: Any, live_server: Any, finance_user: Any
) -> None:
    account = account_get_or_create(namespace="acme")
    account_credit(account_id=account.pk, amount=Decimal("50"), idempotency_key="seed")

    login(page, live_server.url, "fiona", "pass-fiona")
    page.goto(f"{live_server.url}/admin/billing/account/")
    page.fill("#searchbar", "acme")
    page.press("#searchbar", "Enter")
    page.click("#result_list a:text-is('acme')")
    page.click("text=Adjust balance")
    page.fill("#id_amount", "-12.50")
    page.fill("#id_reason", "goodwill correction INC-42")
    page.click("#adjust-form input[type=submit]")
    page.wait_for_selector(".messagelist .success")

    entry = LedgerEntry.objects.get(account=account, kind=LedgerKind.ADJUSTMENT)
    assert entry.amount == Decimal("-12.5000") and entry.actor_id == finance_user.pk
    assert entry.memo == "goodwill correction INC-42"
    account.refresh_from_db()
    assert account.balance == Decimal("37.5000")
    assert account.balance == sum(e.amount for e in account.ledger_entries.all())

    page.goto(f"{live_server.url}/admin/billing/ledgerentry/?q=acme&kind__exact=adjustment")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "CNY -12.50" in rows.first.inner_text()


def test_sandbox_pay_page_completes_a_recharge(page: Any, live_server: Any, db: Any) -> None:
    account = account_get_or_create(namespace="payer")
    order = recharge_create(account=account, amount="88.00", currency="CNY", payment_method="sandbox")
    assert order.status == RechargeStatus.PENDING

    # the creator's URL (with its one-time token) on the live server
    page.goto(live_server.url + order.pay_url.removeprefix(settings.PUBLIC_BASE_URL.rstrip("/")))
    assert page.locator("#amount").inner_text().startswith("88")
    page.click("#pay")
    page.wait_for_function("document.getElementById('status').textContent === 'success'")
    screenshot(page, "sandbox-pay")

    order.refresh_from_db()
    assert order.status == RechargeStatus.SUCCESS and order.ledger_entry_id is not None
    account = Account.objects.get(pk=account.pk)
    assert account.balance == Decimal("88.0000")
    entries = list(account.ledger_entries.values_list("kind", "amount"))
    assert entries == [(LedgerKind.RECHARGE, Decimal("88.0000"))]
    # a second click is impossible (buttons disabled) and a replayed callback would not credit twice
    assert page.locator("#pay").is_disabled()
    assert RechargeOrder.objects.filter(account=account, status=RechargeStatus.SUCCESS).count() == 1
