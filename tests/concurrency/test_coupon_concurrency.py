"""A coupon's limits under real concurrency on MariaDB (issue 20): 20 accounts redeem a coupon
limited to 5 at once, each with its own charge in the same transaction. Exactly 5 redeem and pay;
15 are refused with nothing written."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import OperationalError, transaction

from billing.locks import account_lock
from billing.models import Account, LedgerEntry, Redemption
from billing.promotions import promotion_redeem
from billing.services import account_charge, account_credit, account_get_or_create
from plans.errors import PromotionRefused
from tests.concurrency.test_billing_concurrency import ledger_sum, run_threads
from tests.conftest import mariadb_only
from tests.plans.factories import PromotionFactory

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("per_account", [None, 1])
def test_20_concurrent_redemptions_of_a_coupon_limited_to_5_redeem_exactly_5(per_account):
    promotion = PromotionFactory(code="FIVE", max_redemptions=5, max_per_account=per_account)
    accounts = []
    for i in range(20):
        account = account_get_or_create(namespace=f"c{i}")
        account_credit(account_id=account.pk, amount=Decimal("10"), idempotency_key="seed")
        accounts.append(account)
    outcomes: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        account = accounts[i]
        try:
            with transaction.atomic():
                account_lock(account.pk)  # the order service's lock, before the charge
                promotion_redeem(
                    account_id=account.pk,
                    promotion_id=promotion.pk,
                    subject=("purchase_order", f"o{i}"),
                    field="coupon",
                    at=NOW,
                )
                account_charge(account_id=account.pk, amount=Decimal("9"), idempotency_key=f"o{i}")
            result = "redeemed"
        except PromotionRefused:
            result = "refused"
        except OperationalError as exc:  # a deadlock or lock timeout is a failure
            with lock:
                errors.append(exc)
            result = "error"
        with lock:
            outcomes[result] += 1

    run_threads(20, worker)
    assert errors == []
    assert outcomes == Counter({"redeemed": 5, "refused": 15})
    assert Redemption.objects.filter(promotion=promotion).count() == 5
    assert LedgerEntry.objects.filter(kind="charge").count() == 5
    redeemed = set(Redemption.objects.values_list("account_id", flat=True))
    for account in Account.objects.filter(namespace__startswith="c"):
        expected = Decimal("1") if account.pk in redeemed else Decimal("10")
        assert account.balance == expected == ledger_sum(account.pk)
