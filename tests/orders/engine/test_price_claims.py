"""A charge's claim on its price (``orders.engine.price_claims``): a price edited between a charge's
pricing read and its record insert refuses the charge with nothing written, and the services
that own their transaction price it again; a record freezes the price it names as soon as it is
written, paid or not (docs/plans.md, "Used prices are frozen")."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import transaction

from billing.models import LedgerEntry
from config.money_sql import money_sum
from orders.engine.billing import usage_record_write
from orders.jobs import billing_jobs_run
from orders.models import PurchaseOrder, PurchaseOrderStatus, SubscriptionLine
from orders.package import services as package_services
from orders.purchase import renewal
from orders.purchase import services as purchase_services
from orders.purchase.services import purchase_order_create
from plans.catalog import catalog_export, catalog_import
from plans.errors import PriceChangedDuringCharge, PriceVersionUsed
from plans.models import PriceRule, PriceVersion
from plans.services import price_version_add
from tests.orders.package.factories import T0, create_order, funded_account, make_catalog
from tests.orders.package.metered_order import charged_metered_account, event, ingest
from tests.orders.purchase.helpers import account_of, add_price, assert_ledger, balance, local, make_plan
from usage.models import UsageKind, UsageRecord, UsageStatus

START = local(2026, 3, 10, 12)
DUE = local(2026, 4, 4)  # the Apr 10 deadline is within the renewal lead


def _edit_price_after_the_quote(monkeypatch: Any, new_price: str) -> list[int]:
    """An editor commits a new price right after the order was priced (once)."""
    real = purchase_services.quote_create
    quotes: list[int] = []

    def quote_then_edit(**kwargs: Any) -> Any:
        quote = real(**kwargs)
        if not quotes:
            PriceVersion.objects.filter(pk=quote.version.pk).update(price=Decimal(new_price))
        quotes.append(quote.version.pk)
        return quote

    monkeypatch.setattr(purchase_services, "quote_create", quote_then_edit)
    return quotes


def _create(account: Any, user: Any, name: str = "vol-1") -> Any:
    return purchase_order_create(
        account=account,
        creator=user,
        region="cn-north-1",
        plan_id="vol-50g",
        parameters={"resource_name": name},
        at=START,
    )


@pytest.mark.django_db(transaction=True)
def test_an_order_priced_before_an_edit_is_priced_again_and_charged_the_new_price(
    monkeypatch, user, caplog
) -> None:
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    quotes = _edit_price_after_the_quote(monkeypatch, "45")
    with caplog.at_level(logging.WARNING, logger="tally.db"):
        result = _create(account, user)
    assert len(quotes) == 2  # the first attempt was refused and rolled back, the retry priced 45
    assert "PriceChangedDuringCharge in purchase_order_create, retry 1" in caplog.text
    assert result.money == Decimal("45") and PurchaseOrder.objects.count() == 1
    record = UsageRecord.objects.get()
    version = PriceVersion.objects.get(pk=record.price_version_id)
    assert record.unit_price == version.price == Decimal("45") and record.amount == Decimal("45")
    assert version.first_used_at is not None
    assert balance(account) == Decimal("55")
    assert money_sum(LedgerEntry.objects.filter(account=account, amount__lt=0)) == Decimal("-45")
    assert_ledger(account)


@pytest.mark.django_db
def test_inside_a_callers_transaction_the_charge_is_refused_with_nothing_written(monkeypatch, user) -> None:
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    _edit_price_after_the_quote(monkeypatch, "45")
    entries = LedgerEntry.objects.count()
    with pytest.raises(PriceChangedDuringCharge) as exc:
        _create(account, user)  # the test's transaction is the caller's: no retry here
    assert exc.value.code_for(None) == 3611 and "is now 45" in exc.value.message
    assert PurchaseOrder.objects.count() == 0 and UsageRecord.objects.count() == 0
    assert SubscriptionLine.objects.count() == 0 and LedgerEntry.objects.count() == entries
    version = PriceVersion.objects.get()
    assert version.price == Decimal("45") and version.first_used_at is None  # the edit stands
    assert balance(account) == Decimal("100")
    assert_ledger(account)


@pytest.mark.django_db
def test_the_api_answers_409_3611_in_the_envelope(monkeypatch, api, user) -> None:
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    _edit_price_after_the_quote(monkeypatch, "45")
    r = api.post(
        "/usageapi/v1/orders",
        {"region": "cn-north-1", "plan_id": "vol-50g", "parameters": {"resource_name": "vol-1"}},
        format="json",
    )
    assert r.status_code == 409 and r.json()["code"] == 3611, r.json()
    assert "retry" in r.json()["msg"]
    assert PurchaseOrder.objects.count() == 0 and balance(account) == Decimal("100")


def _write_june(user: Any, *, unit_price: str | None = None, **kwargs: Any) -> tuple[PriceVersion, Any]:
    """An order's line, a price of 40 from June, and a June record of the line naming that price
    (at ``unit_price``, default the price): (the price, what ``usage_record_write`` returned)."""
    plan = make_plan("vol-50g", "30")
    order = _create(account_of(user, "100"), user).order
    later = add_price(plan, "40", local(2026, 6, 1))
    written = usage_record_write(
        line=SubscriptionLine.objects.get(subscription_id=order.subscription_id),
        period_start=later.effective_from,
        period_end=local(2026, 7, 1),
        key="p:june",
        kind=UsageKind.RENEW,
        unit_price=Decimal(unit_price) if unit_price else later.price,
        price_version_id=later.pk,
        price_read=Decimal(unit_price) if unit_price else later.price,  # as a renewal reads it
        **kwargs,
    )
    return later, written


@pytest.mark.django_db
def test_an_unpaid_record_freezes_its_price_when_it_is_written(user) -> None:
    later, (record, created) = _write_june(user, status=UsageStatus.UNPAID)
    plan = later.plan
    assert created and record.status == UsageStatus.UNPAID
    later.refresh_from_db()
    assert later.first_used_at == record.created_at
    with pytest.raises(PriceVersionUsed):
        price_version_add(plan=plan, price="41", effective_from=later.effective_from, actor=None, force=True)
    assert PriceVersion.objects.get(pk=later.pk).price == Decimal("40")


@pytest.mark.django_db
def test_a_record_written_at_a_stale_price_is_refused_and_not_written(user) -> None:
    with pytest.raises(PriceChangedDuringCharge):
        _write_june(user, unit_price="39")  # what a read before the edit to 40 saw
    assert UsageRecord.objects.count() == 1  # the order's first period only
    assert PriceVersion.objects.get(effective_from=local(2026, 6, 1)).first_used_at is None


@pytest.mark.django_db(transaction=True)
def test_a_renewal_chunk_that_read_a_price_before_an_edit_is_taken_again(
    monkeypatch, make_user, caplog
) -> None:
    plan = make_plan("vol-50g", "30")
    users = [make_user(username=f"r{i}") for i in range(3)]
    accounts = [account_of(u, "100") for u in users]
    for i, (u, a) in enumerate(zip(users, accounts, strict=True)):
        _create(a, u, name=f"vol-{i}")
    version = plan.price_versions.get()
    real_plan = renewal.renewals_plan
    plans_made: list[int] = []

    def plan_then_edit(**kwargs: Any) -> Any:
        planned = real_plan(**kwargs)
        if not plans_made:
            # an edit the chunk cannot see in what it planned (rolled back with the chunk here)
            PriceVersion.objects.filter(pk=version.pk).update(price=Decimal("31"))
        plans_made.append(len(planned.due))
        return planned

    monkeypatch.setattr(renewal, "renewals_plan", plan_then_edit)
    with caplog.at_level(logging.WARNING, logger="tally.db"):
        summary = renewal.renewal_run(at=DUE)
    assert plans_made == [3, 3] and summary.renewed == 3
    assert "PriceChangedDuringCharge in _renew_chunk, retry 1" in caplog.text
    renewals = UsageRecord.objects.filter(kind=UsageKind.RENEW)
    assert renewals.count() == 3 and {r.unit_price for r in renewals} == {Decimal("30")}
    assert PurchaseOrder.objects.filter(status=PurchaseOrderStatus.CONSUMING).count() == 3
    for account in accounts:
        assert balance(account) == Decimal("40")
        assert_ledger(account)


@pytest.mark.django_db
def test_the_migration_stamps_prices_named_only_by_older_records(user) -> None:
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    _create(account, user)
    record = UsageRecord.objects.get()
    PriceVersion.objects.update(first_used_at=None)  # as a record paid before stamping moved
    migration = __import__("usage.migrations.0010_stamp_referenced_prices", fromlist=["stamp"])
    with transaction.atomic():
        migration.stamp(django_apps, None)
    assert PriceVersion.objects.get().first_used_at == record.created_at


@pytest.mark.django_db
def test_a_package_line_claims_its_rule_when_written_so_its_postpaid_bills_keep_its_price() -> None:
    """The metered ``net`` line has no record until its first hour is billed; the line itself
    froze the rule, so the bill of that hour names the price the order was made with."""
    account = charged_metered_account()
    net = PriceRule.objects.get(component__component_id="net")
    assert net.first_used_at is not None  # by the line, before any record named it
    assert not UsageRecord.objects.filter(price_rule=net).exists()
    doc = catalog_export()  # a catalog sync that reprices it keeps the used price
    for plan in doc["plans"]:
        for rule in plan.get("rules", []):
            if rule["component_id"] == "net":
                rule["price"] = "0.9000"
    report = catalog_import(doc, retire_missing=False)
    assert [label for label in report.kept_used if "/net" in label]
    assert PriceRule.objects.get(pk=net.pk).price == Decimal("0.5")
    ingest(account, event("a", "4", T0 + timedelta(minutes=10)), at=T0 + timedelta(minutes=30))
    billing_jobs_run(at=T0 + timedelta(hours=1, minutes=1))
    bill = UsageRecord.objects.get(kind=UsageKind.USAGE, period_start=T0)
    assert bill.price_rule_id == net.pk and bill.unit_price == net.price == Decimal("0.5")
    assert bill.amount == Decimal("2.0000") and bill.status == UsageStatus.PAID


@pytest.mark.django_db
def test_a_line_whose_rule_drifted_before_the_claims_is_still_billed_at_its_own_price() -> None:
    """Data written before lines claimed their rule: a line may keep a price its rule no longer
    shows. Its later records copy the line's price, read long ago, so nothing compares them and
    the bill is not blocked."""
    account = charged_metered_account()
    net = PriceRule.objects.get(component__component_id="net")
    PriceRule.objects.filter(pk=net.pk).update(price=Decimal("0.7"))  # as an edit before the claim
    ingest(account, event("a", "4", T0 + timedelta(minutes=10)), at=T0 + timedelta(minutes=30))
    summary = billing_jobs_run(at=T0 + timedelta(hours=1, minutes=1))
    assert summary.get("failed", 0) == 0
    bill = UsageRecord.objects.get(kind=UsageKind.USAGE, period_start=T0)
    assert bill.unit_price == Decimal("0.5") and bill.amount == Decimal("2.0000")


@pytest.mark.django_db(transaction=True)
def test_a_package_order_priced_before_a_rule_edit_is_priced_again(monkeypatch) -> None:
    make_catalog()
    account = funded_account("alice", "1000")
    real = package_services.quote_create
    edits: list[int] = []

    def quote_then_edit(**kwargs: Any) -> Any:
        quote = real(**kwargs)
        if not edits:  # an editor commits a new price of the postpaid rule right after the quote
            edits.append(PriceRule.objects.filter(component__component_id="net").update(price=Decimal("0.6")))
        return quote

    monkeypatch.setattr(package_services, "quote_create", quote_then_edit)
    create_order(account, ext="i-1")
    assert edits == [1]
    net_line = SubscriptionLine.objects.get(component_id="net")
    net = PriceRule.objects.get(component__component_id="net")
    assert net_line.price == net.price == Decimal("0.6") and net.first_used_at is not None
