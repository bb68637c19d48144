from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from billing import quota as quota_module
from billing.errors import AccountNotFound, UnknownService
from billing.models import Account, LedgerEntry, MonthlyQuota, QuotaUsage
from billing.quota import metered_service_cache_clear, quota_check, quota_deduct, quota_open_month
from billing.services import account_charge_locked
from billing.tasks import open_quota_month
from config.exceptions import InsufficientFunds, InvalidInput
from plans.models import MeteredService
from tests.billing.factories import funded_account, ledger_sum

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _tz(settings):
    settings.TALLY_TIME_ZONE = "Asia/Shanghai"


@pytest.fixture(autouse=True)
def _fresh_service_cache():
    # the cache is per process and outlives a test's rolled-back rows
    metered_service_cache_clear()
    yield
    metered_service_cache_clear()


def statements(ctx) -> list[str]:
    """The SQL sent, without the test transaction's savepoints (production has none)."""
    return [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"].upper()]


def test_seeded_services_exist():
    svc = MeteredService.objects.get(service="payment")
    assert svc.unit_price == Decimal("0.1000") and svc.monthly_free_quota == 1000


def test_free_quota_fully_covers():
    acc = funded_account("acme", "5")
    d = quota_deduct(account_id=acc.pk, service="payment", count=400, request_id="r1")
    assert (d.free_count, d.paid_count, d.amount) == (400, 0, Decimal("0"))
    assert d.usage.ledger_entry is None
    q = MonthlyQuota.objects.get(account=acc, service__service="payment")
    assert (q.total, q.used) == (1000, 400)
    acc.refresh_from_db()
    assert acc.balance == Decimal("5") == ledger_sum(acc)


def test_free_quota_partly_covers_and_charges_only_the_rest():
    acc = funded_account("acme", "100")
    quota_deduct(account_id=acc.pk, service="payment", count=990, request_id="r1")
    d = quota_deduct(account_id=acc.pk, service="payment", count=25, request_id="r2")
    assert (d.free_count, d.paid_count) == (10, 15)
    assert d.amount == Decimal("1.5000")
    assert d.usage.ledger_entry.amount == Decimal("-1.5000")
    assert d.usage.ledger_entry.idempotency_key == "quota:r2"
    acc.refresh_from_db()
    assert acc.balance == Decimal("98.5") == ledger_sum(acc) == d.balance
    assert MonthlyQuota.objects.get(account=acc, service__service="payment").used == 1000


def test_quota_exhausted_charges_everything():
    acc = funded_account("acme", "10")
    quota_deduct(account_id=acc.pk, service="asset", count=1000, request_id="r1")
    d = quota_deduct(account_id=acc.pk, service="asset", count=3, request_id="r2")
    assert (d.free_count, d.paid_count, d.amount) == (0, 3, Decimal("0.1500"))
    acc.refresh_from_db()
    assert acc.balance == Decimal("9.85") == ledger_sum(acc)


def test_short_balance_records_nothing_and_uses_no_quota():
    acc = funded_account("acme", "1")
    quota_deduct(account_id=acc.pk, service="payment", count=995, request_id="r1")
    before = QuotaUsage.objects.count(), LedgerEntry.objects.count()
    with pytest.raises(InsufficientFunds):
        quota_deduct(account_id=acc.pk, service="payment", count=100, request_id="r2")  # 5 free + 9.5 paid
    assert (QuotaUsage.objects.count(), LedgerEntry.objects.count()) == before
    assert MonthlyQuota.objects.get(account=acc, service__service="payment").used == 995
    acc.refresh_from_db()
    assert acc.balance == Decimal("1") == ledger_sum(acc)


def test_repeat_request_id_returns_first_result_and_moves_nothing():
    acc = funded_account("acme", "10")
    quota_deduct(account_id=acc.pk, service="asset", count=1000, request_id="r0")
    first = quota_deduct(account_id=acc.pk, service="asset", count=20, request_id="same")
    again = quota_deduct(account_id=acc.pk, service="asset", count=20, request_id="same")
    assert again.replayed and not first.replayed
    assert again.usage.pk == first.usage.pk
    assert (again.amount, again.balance) == (first.amount, first.balance)
    assert QuotaUsage.objects.filter(request_id="same").count() == 1
    acc.refresh_from_db()
    assert acc.balance == Decimal("9") == ledger_sum(acc)


def test_month_rollover_in_local_time_zone():
    acc = funded_account("acme", "10")
    # 2026-01-31 23:59 and 2026-02-01 00:00 in Shanghai are both still January 31 in UTC.
    before = datetime(2026, 1, 31, 23, 59, tzinfo=SH)
    after = datetime(2026, 2, 1, 0, 0, tzinfo=SH)
    quota_deduct(account_id=acc.pk, service="payment", count=1000, request_id="jan", at=before)
    d = quota_deduct(account_id=acc.pk, service="payment", count=5, request_id="late-jan", at=before)
    assert d.paid_count == 5
    d = quota_deduct(account_id=acc.pk, service="payment", count=5, request_id="feb", at=after)
    assert (d.free_count, d.paid_count) == (5, 0)
    months = dict(MonthlyQuota.objects.filter(account=acc).values_list("month", "used"))
    assert months == {date(2026, 1, 1): 1000, date(2026, 2, 1): 5}  # January's rest does not roll over
    assert quota_check(account=acc, service="payment", count=1000, at=after).reason == "balance"
    assert quota_check(account=acc, service="payment", count=995, at=after).reason == "free"


def test_quota_check_is_read_only_and_explains():
    acc = funded_account("acme", "1")
    assert quota_check(account=acc, service="payment", count=1000).reason == "free"
    r = quota_check(account=acc, service="payment", count=1010)
    assert (r.allowed, r.reason) == (True, "balance")
    r = quota_check(account=acc, service="payment", count=1011)
    assert (r.allowed, r.reason) == (False, "insufficient balance")
    assert MonthlyQuota.objects.count() == 0 and QuotaUsage.objects.count() == 0


@pytest.mark.parametrize("count", [0, -1, "3", 1.5, True])
def test_bad_count_is_refused(count):
    acc = funded_account("acme", "1")
    with pytest.raises(InvalidInput) as exc:
        quota_deduct(account_id=acc.pk, service="payment", count=count, request_id="x")
    assert "count" in exc.value.errors
    assert QuotaUsage.objects.count() == 0


def test_unknown_or_inactive_service_is_refused():
    acc = funded_account("acme", "1")
    with pytest.raises(UnknownService):
        quota_deduct(account_id=acc.pk, service="nope", count=1, request_id="x")
    quota_deduct(account_id=acc.pk, service="asset", count=1, request_id="cached")  # now cached
    svc = MeteredService.objects.get(service="asset")
    svc.active = False
    svc.save()  # admin and catalog import save(): the cache of this process is cleared at once
    with pytest.raises(UnknownService):
        quota_check(account=acc, service="asset", count=1)
    with pytest.raises(UnknownService):
        quota_deduct(account_id=acc.pk, service="asset", count=1, request_id="y")
    assert QuotaUsage.objects.count() == 1


def test_service_row_is_cached_and_a_saved_price_change_applies_to_the_next_call():
    acc = funded_account("acme", "100")
    quota_deduct(account_id=acc.pk, service="asset", count=1000, request_id="r0")
    with CaptureQueriesContext(connection) as ctx:
        d = quota_deduct(account_id=acc.pk, service="asset", count=2, request_id="r1")
    assert d.amount == Decimal("0.1000")
    assert not [sql for sql in statements(ctx) if "plans_meteredservice" in sql]
    svc = MeteredService.objects.get(service="asset")
    svc.unit_price = Decimal("0.2")
    svc.save()
    d = quota_deduct(account_id=acc.pk, service="asset", count=2, request_id="r2")
    assert (d.amount, d.usage.unit_price) == (Decimal("0.4000"), Decimal("0.2"))
    acc.refresh_from_db()
    assert acc.balance == Decimal("99.5") == ledger_sum(acc)


def test_service_changed_without_signal_is_seen_after_the_ttl(monkeypatch):
    acc = funded_account("acme", "10")
    quota_deduct(account_id=acc.pk, service="asset", count=1, request_id="r0")
    MeteredService.objects.filter(service="asset").update(active=False)  # QuerySet.update: no signal
    quota_deduct(account_id=acc.pk, service="asset", count=1, request_id="r1")  # within the TTL
    later = quota_module._now() + quota_module.SERVICE_CACHE_SECONDS + 1
    monkeypatch.setattr(quota_module, "_now", lambda: later)  # the TTL has passed
    with pytest.raises(UnknownService):
        quota_deduct(account_id=acc.pk, service="asset", count=1, request_id="r3")


def test_one_paid_call_is_four_statements():
    acc = funded_account("acme", "100")
    quota_deduct(account_id=acc.pk, service="payment", count=1000, request_id="warm")
    with CaptureQueriesContext(connection) as ctx:
        d = quota_deduct(namespace="acme", service="payment", count=3, request_id="paid")
    sqls = statements(ctx)
    assert len(sqls) == 4, sqls
    assert "billing_account" in sqls[0] and "billing_monthlyquota" in sqls[0]  # both locked at once
    if connection.features.has_select_for_update:
        assert sqls[0].rstrip().upper().endswith("FOR UPDATE")
    assert sqls[1].startswith("UPDATE") and "billing_account" in sqls[1]
    assert sqls[2].startswith("INSERT") and "billing_ledgerentry" in sqls[2]
    assert sqls[3].startswith("INSERT") and "billing_quotausage" in sqls[3]
    assert (d.paid_count, d.amount, d.replayed) == (3, Decimal("0.3000"), False)
    stored = QuotaUsage.objects.get(pk=d.usage.pk)
    assert (stored.amount, stored.balance_after, stored.ledger_entry_id) == (
        d.amount,
        d.balance,
        d.usage.ledger_entry.pk,
    )
    entry = LedgerEntry.objects.get(pk=d.usage.ledger_entry_id)
    assert (entry.amount, entry.balance_after, entry.kind) == (Decimal("-0.3"), Decimal("99.7"), "charge")
    assert (entry.subject_type, entry.subject_id, entry.memo) == ("quota_request", "paid", "payment x3")
    acc.refresh_from_db()
    assert acc.balance == Decimal("99.7") == ledger_sum(acc) == d.balance


def test_a_free_call_is_three_statements():
    acc = funded_account("acme", "1")
    quota_deduct(account_id=acc.pk, service="payment", count=1, request_id="first")  # creates the row
    with CaptureQueriesContext(connection) as ctx:
        d = quota_deduct(namespace="acme", service="payment", count=5, request_id="free")
    sqls = statements(ctx)
    assert len(sqls) == 3, sqls  # lock, UPDATE quota used, INSERT usage: no ledger entry
    assert sqls[1].startswith("UPDATE") and "billing_monthlyquota" in sqls[1]
    assert (d.free_count, d.paid_count, d.usage.ledger_entry_id) == (5, 0, None)
    assert MonthlyQuota.objects.get(account=acc, service__service="payment").used == 6


def test_deduct_by_namespace_and_unknown_account():
    funded_account("acme", "1")
    d = quota_deduct(namespace="acme", service="payment", count=2, request_id="n1")
    assert (d.free_count, d.paid_count, d.replayed) == (2, 0, False)
    assert QuotaUsage.objects.get(request_id="n1").account.namespace == "acme"
    with pytest.raises(AccountNotFound) as exc:
        quota_deduct(namespace="ghost", service="teleport", count=1, request_id="n2")  # account first
    assert "namespace" in exc.value.errors
    with pytest.raises(UnknownService):
        quota_deduct(account_id=10**9, service="teleport", count=1, request_id="n3")  # service first
    with pytest.raises(AccountNotFound):
        quota_deduct(account_id=10**9, service="payment", count=1, request_id="n3")
    with pytest.raises(TypeError):
        quota_deduct(account_id=1, namespace="acme", service="payment", count=1, request_id="n4")
    assert QuotaUsage.objects.count() == 1


def test_replay_of_a_paid_call_when_the_balance_is_gone_answers_the_first_result():
    acc = funded_account("acme", "0.5")
    quota_deduct(account_id=acc.pk, service="payment", count=1000, request_id="all-free")
    first = quota_deduct(namespace="acme", service="payment", count=5, request_id="paid")
    assert first.balance == Decimal("0")
    again = quota_deduct(namespace="acme", service="payment", count=5, request_id="paid")
    assert again.replayed and again.usage.pk == first.usage.pk
    assert (again.paid_count, again.amount, again.balance) == (5, Decimal("0.5000"), Decimal("0"))
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    with pytest.raises(InsufficientFunds):  # a new request id is still refused
        quota_deduct(namespace="acme", service="payment", count=5, request_id="other")
    acc.refresh_from_db()
    assert acc.balance == Decimal("0") == ledger_sum(acc)


def test_replay_of_a_free_call_after_the_quota_ran_out_moves_nothing():
    acc = funded_account("acme", "10")
    first = quota_deduct(account_id=acc.pk, service="payment", count=1000, request_id="free")
    again = quota_deduct(account_id=acc.pk, service="payment", count=1000, request_id="free")
    assert again.replayed and again.usage.pk == first.usage.pk and again.free_count == 1000
    assert LedgerEntry.objects.filter(kind="charge").count() == 0  # the would-be charge rolled back
    assert MonthlyQuota.objects.get().used == 1000
    acc.refresh_from_db()
    assert acc.balance == Decimal("10") == ledger_sum(acc)


def test_replay_in_the_next_month_creates_no_quota_row():
    acc = funded_account("acme", "10")
    jan = datetime(2026, 1, 20, tzinfo=SH)
    first = quota_deduct(account_id=acc.pk, service="payment", count=7, request_id="r", at=jan)
    again = quota_deduct(
        account_id=acc.pk, service="payment", count=7, request_id="r", at=datetime(2026, 2, 2, tzinfo=SH)
    )
    assert again.replayed and again.usage.pk == first.usage.pk
    assert list(MonthlyQuota.objects.values_list("month", "used")) == [(date(2026, 1, 1), 7)]


def test_month_row_is_created_without_a_savepoint_and_reused():
    lazy = funded_account("lazy", "10")
    with CaptureQueriesContext(connection) as ctx:
        quota_deduct(account_id=lazy.pk, service="payment", count=4, request_id="r")
    assert MonthlyQuota.objects.get(account=lazy, service__service="payment").used == 4
    assert sum("SAVEPOINT" in q["sql"].upper() for q in ctx.captured_queries) == 2  # the outer atomic's
    opened = funded_account("opened", "10")
    quota_open_month(month=clock_month())
    assert MonthlyQuota.objects.filter(account=opened).count() == 3
    quota_deduct(account_id=opened.pk, service="payment", count=4, request_id="r")
    assert MonthlyQuota.objects.get(account=opened, service__service="payment").used == 4
    assert MonthlyQuota.objects.filter(account=lazy).count() == 3  # the lazy row was kept, not doubled


def clock_month() -> date:
    from config import clock

    return clock.month_of(clock.now())


def test_account_charge_locked_needs_a_transaction_and_rolls_back_on_a_repeated_key(monkeypatch):
    from billing import services

    acc = funded_account("acme", "5")
    # the test itself runs inside a transaction: pretend it does not to check the guard
    monkeypatch.setattr(
        services.transaction, "get_connection", lambda: type("C", (), {"in_atomic_block": False})
    )
    with pytest.raises(RuntimeError):
        account_charge_locked(account=acc, amount=Decimal("1"), idempotency_key="k0")
    monkeypatch.undo()
    with transaction.atomic():
        locked = Account.objects.select_for_update().only("id", "balance").get(pk=acc.pk)
        p = account_charge_locked(account=locked, amount=Decimal("2"), idempotency_key="k1")
        assert (p.balance, locked.balance, p.replayed) == (Decimal("3"), Decimal("3"), False)
    with pytest.raises(IntegrityError), transaction.atomic():
        locked = Account.objects.select_for_update().only("id", "balance").get(pk=acc.pk)
        account_charge_locked(account=locked, amount=Decimal("1"), idempotency_key="k1")
    with pytest.raises(InsufficientFunds), transaction.atomic():
        locked = Account.objects.select_for_update().only("id", "balance").get(pk=acc.pk)
        account_charge_locked(account=locked, amount=Decimal("3.0001"), idempotency_key="k2")
    acc.refresh_from_db()
    assert acc.balance == Decimal("3") == ledger_sum(acc)
    assert LedgerEntry.objects.filter(kind="charge").count() == 1


def test_open_month_is_idempotent_and_lazy_rows_coexist():
    a = funded_account("a", "0")
    funded_account("b", "0")
    quota_deduct(
        account_id=a.pk, service="passport", count=7, request_id="r", at=datetime(2026, 3, 5, tzinfo=SH)
    )
    quota_open_month(month=date(2026, 3, 1))
    quota_open_month(month=date(2026, 3, 1))
    open_quota_month.delay("2026-03-01")
    assert MonthlyQuota.objects.filter(month=date(2026, 3, 1)).count() == 2 * 3
    assert MonthlyQuota.objects.get(account=a, service__service="passport", month=date(2026, 3, 1)).used == 7


def test_beat_entry_runs_at_local_midnight_on_the_first():
    from billing.schedule import BEAT_SCHEDULE

    sched = BEAT_SCHEDULE["billing.open_quota_month"]["schedule"]
    assert sched.minute == {0} and sched.hour == {0} and sched.day_of_month == {1}
    from django.conf import settings

    from config.celery import app

    assert app.conf.timezone == settings.CELERY_TIMEZONE  # settings: CELERY_TIMEZONE = TALLY_TIME_ZONE
