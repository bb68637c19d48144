from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.errors import UnknownService
from billing.models import LedgerEntry, MonthlyQuota, QuotaUsage
from billing.quota import quota_check, quota_deduct, quota_open_month
from billing.tasks import open_quota_month
from config.exceptions import InsufficientFunds, InvalidInput
from plans.models import MeteredService
from tests.billing.factories import funded_account, ledger_sum

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _tz(settings):
    settings.TALLY_TIME_ZONE = "Asia/Shanghai"


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
    MeteredService.objects.filter(service="asset").update(active=False)
    with pytest.raises(UnknownService):
        quota_check(account=acc, service="asset", count=1)


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
