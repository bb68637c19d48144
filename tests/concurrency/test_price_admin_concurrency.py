"""A finance user saving a price's admin page while a charge stamps the price as used, on MariaDB
(real threads, real row locks): whichever takes the row's lock first wins, a used price is never
changed, and a record never names a price other than the one it was charged (docs/plans.md, "Used
prices are frozen")."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from billing.models import LedgerEntry
from billing.services import account_credit, account_get_or_create
from config.money_sql import money_sum
from orders.purchase import services as purchase_services
from plans import demo
from plans.admin import UnusedPriceForm
from plans.catalog import catalog_import
from plans.models import Plan, PriceVersion
from plans.services import price_mark_used
from tests.admin.change_forms import change_form_data
from tests.conftest import mariadb_only
from usage.models import UsageRecord

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]
HOLD_SECONDS = 1.0


def _version_page() -> tuple[Client, str, dict[str, str], PriceVersion]:
    catalog_import(demo.demo_document())
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pass-root"))
    version = Plan.objects.get(plan_id="vol-50g").price_versions.get()
    url = reverse("admin:plans_priceversion_change", args=[version.pk])
    data = change_form_data(client.get(url)) | {"price": "12.5000"}
    return client, url, data, version


def _in_thread(target) -> threading.Thread:
    def run() -> None:
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_charge_stamping_the_price_waits_for_the_save_that_holds_its_lock(monkeypatch) -> None:
    client, url, data, version = _version_page()
    locked = threading.Event()
    real_clean = UnusedPriceForm.clean

    def clean_then_hold(self):
        cleaned = real_clean(self)  # the price row is locked from here to the admin's commit
        locked.set()
        time.sleep(HOLD_SECONDS)
        return cleaned

    monkeypatch.setattr(UnusedPriceForm, "clean", clean_then_hold)
    responses: list[int] = []
    waited: list[float] = []

    def stamp() -> None:
        assert locked.wait(30)
        started = time.monotonic()
        price_mark_used(version_id=version.pk, at=version.effective_from)
        waited.append(time.monotonic() - started)

    stamper = _in_thread(stamp)
    saver = _in_thread(lambda: responses.append(client.post(url, data).status_code))
    saver.join(60)
    stamper.join(60)
    assert responses == [302]
    assert waited and waited[0] >= HOLD_SECONDS / 2, waited  # the stamp blocked on the save's lock
    after = PriceVersion.objects.get(pk=version.pk)
    assert after.price == Decimal("12.5000") and after.first_used_at == version.effective_from


def test_a_save_waiting_for_a_charge_that_stamps_the_price_is_refused() -> None:
    client, url, data, version = _version_page()
    stamped = threading.Event()
    bodies: list[tuple[int, bytes]] = []

    def stamp_and_hold() -> None:
        with transaction.atomic():
            price_mark_used(version_id=version.pk, at=version.effective_from)
            stamped.set()
            time.sleep(HOLD_SECONDS)

    def save() -> None:
        assert stamped.wait(30)
        r = client.post(url, data)
        bodies.append((r.status_code, r.content))

    stamper = _in_thread(stamp_and_hold)
    saver = _in_thread(save)
    stamper.join(60)
    saver.join(60)
    assert len(bodies) == 1 and bodies[0][0] == 200 and b"a used price is frozen" in bodies[0][1]
    after = PriceVersion.objects.get(pk=version.pk)
    assert after.price == Decimal("10.0000") and after.first_used_at == version.effective_from


def test_a_save_committed_between_a_charges_pricing_and_its_insert_makes_it_price_again(
    monkeypatch,
) -> None:
    """The charge priced the order at 10, the admin saved 12.50 and committed, then the charge
    inserted its record: the record would name a version showing another price. The claim after
    the insert sees the committed 12.50, the create is taken again and charges 12.50."""
    client, url, data, version = _version_page()
    owner = get_user_model().objects.create_user("buyer", password="pass-buyer")
    account = account_get_or_create(namespace="buyer", member=owner)
    account_credit(account_id=account.pk, amount=Decimal("100"), idempotency_key="fund-buyer")
    priced, saved = threading.Event(), threading.Event()
    real_quote = purchase_services.quote_create

    def quote_then_wait(**kwargs):
        quote = real_quote(**kwargs)
        if not priced.is_set():
            priced.set()
            assert saved.wait(30)  # the admin's save commits in this window
        return quote

    monkeypatch.setattr(purchase_services, "quote_create", quote_then_wait)
    results: list = []
    responses: list[int] = []

    def create() -> None:
        results.append(
            purchase_services.purchase_order_create(
                account=account, creator=owner, region="cn-north-1", plan_id="vol-50g"
            )
        )

    def save() -> None:
        assert priced.wait(30)
        responses.append(client.post(url, data).status_code)
        saved.set()

    charger = _in_thread(create)
    saver = _in_thread(save)
    saver.join(60)
    charger.join(60)
    assert responses == [302] and len(results) == 1
    assert results[0].money == Decimal("12.50")
    record = UsageRecord.objects.get()
    after = PriceVersion.objects.get(pk=version.pk)
    assert record.price_version_id == after.pk
    assert record.unit_price == after.price == Decimal("12.5000") and after.first_used_at is not None
    account.refresh_from_db()
    assert account.balance == Decimal("87.50")
    assert account.balance == money_sum(LedgerEntry.objects.filter(account=account))
