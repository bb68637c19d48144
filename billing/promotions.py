"""Redeeming a promotion (docs/plans.md "Promotions"): the ``Redemption`` row is taken in the
caller's transaction, under the account lock and then the promotion row's, so the limits hold
under concurrency (20 racing redemptions of a coupon limited to 5 redeem exactly 5).

Lock order (``billing/locks.py``): the account row first (a no-op when the caller holds it, as
every order service does before charging), then the promotion row, then whatever order rows the
caller goes on to lock. The counts are locking reads, which see every committed redemption even
under MariaDB's REPEATABLE READ (a plain read would see the transaction's older snapshot).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from billing.locks import account_lock
from billing.models import Redemption
from config.money import ZERO
from plans.errors import PromotionRefused
from plans.models import Promotion
from plans.promotions import discount_for, promotion_covers


@dataclass(frozen=True)
class Redeemed:
    redemption: Redemption
    replayed: bool  # this order had redeemed the promotion before (a retry): nothing new counted


def promotion_redeem(
    *,
    account_id: int,
    promotion_id: int,
    subject: tuple[str, str],
    field: str,
    at: datetime,
    actor: Any = None,
    first_period: int = 1,
) -> Redeemed:
    """Take the redemption of a promotion by one order (``subject`` = (family, order id)).

    Must run inside the caller's ``transaction.atomic()`` that charges the order, so a refused
    charge leaves no redemption and a refused redemption (``PromotionRefused`` on ``field``, the
    limits) leaves no charge. The same order redeeming again returns its first row.
    """
    subject_type, subject_id = subject
    with transaction.atomic():
        account_lock(account_id)
        promotion = Promotion.objects.select_for_update().get(pk=promotion_id)
        existing = (
            Redemption.objects.select_for_update()
            .filter(promotion_id=promotion.pk, subject_type=subject_type, subject_id=subject_id)
            .first()
        )
        if existing is not None:
            return Redeemed(redemption=existing, replayed=True)
        limited = promotion.max_redemptions is not None
        if limited and _locked_count(promotion_id=promotion.pk) >= (promotion.max_redemptions or 0):
            raise PromotionRefused.on(field, f"promotion {promotion.code!r} has been fully redeemed")
        mine = _locked_count(promotion_id=promotion.pk, account_id=account_id)
        if promotion.max_per_account is not None and mine >= promotion.max_per_account:
            raise PromotionRefused.on(field, f"this account has already redeemed {promotion.code!r}")
        try:
            with transaction.atomic():
                row = Redemption.objects.create(
                    promotion_id=promotion.pk,
                    account_id=account_id,
                    seq=mine + 1,
                    subject_type=subject_type,
                    subject_id=subject_id,
                    first_period=first_period,
                    redeemed_at=at,
                    actor=actor if getattr(actor, "pk", None) else None,
                )
        except IntegrityError:  # unreachable under the locks; the keys are the last word
            raise PromotionRefused.on(
                field, f"this account has already redeemed {promotion.code!r}"
            ) from None
    return Redeemed(redemption=row, replayed=False)


def promotion_redeemable(*, account_id: int | None, promotion: Promotion, field: str) -> None:
    """The limits checked without locks and without writing, for previews (``drytry``): what the
    real redemption would refuse now. Raises ``PromotionRefused`` on ``field``."""
    taken = Redemption.objects.filter(promotion_id=promotion.pk)
    if promotion.max_redemptions is not None and taken.count() >= promotion.max_redemptions:
        raise PromotionRefused.on(field, f"promotion {promotion.code!r} has been fully redeemed")
    if account_id is None or promotion.max_per_account is None:
        return
    if taken.filter(account_id=account_id).count() >= promotion.max_per_account:
        raise PromotionRefused.on(field, f"this account has already redeemed {promotion.code!r}")


def redemption_for(*, subject: tuple[str, str]) -> Redemption | None:
    """The redemption an order made (one promotion per order), with its promotion."""
    subject_type, subject_id = subject
    return (
        Redemption.objects.select_related("promotion")
        .filter(subject_type=subject_type, subject_id=subject_id)
        .order_by("pk")
        .first()
    )


def redemptions_for(*, subject_type: str, subject_ids: Iterable[str]) -> dict[str, Redemption]:
    """The redemptions of many orders of one family (a renewal chunk), by order id, in one query."""
    ids = sorted(set(subject_ids))
    rows = (
        Redemption.objects.select_related("promotion")
        .filter(subject_type=subject_type, subject_id__in=ids)
        .order_by("pk")
    )
    found: dict[str, Redemption] = {}
    for row in rows:
        found.setdefault(row.subject_id, row)
    return found


def redemptions_of(subjects: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Redemption]:
    """The redemptions of orders of any families (a billing-job chunk mixes purchase and package
    lines), by ``(family, order id)``, in one query."""
    wanted = set(subjects)
    if not wanted:
        return {}
    match = Q()
    for family in sorted({family for family, _ in wanted}):
        match |= Q(subject_type=family, subject_id__in=sorted(i for f, i in wanted if f == family))
    found: dict[tuple[str, str], Redemption] = {}
    for row in Redemption.objects.select_related("promotion").filter(match).order_by("pk"):
        found.setdefault((row.subject_type, row.subject_id), row)
    return found


def redemption_covers(redemption: Redemption, *, period_index: int) -> bool:
    """Whether the order's ``period_index``-th period (its line's 1-based index) is discounted."""
    return promotion_covers(redemption.promotion, period_number=period_index - redemption.first_period + 1)


def redemption_discount(redemption: Redemption | None, *, period_index: int, gross: Decimal) -> Decimal:
    """The discount of an order's ``period_index``-th period: its promotion's on ``gross`` while
    the duration covers the period (also after the window closed or the promotion went inactive:
    the order redeemed it), else 0."""
    if redemption is None or not redemption_covers(redemption, period_index=period_index):
        return ZERO
    return discount_for(promotion=redemption.promotion, gross=gross)


def _locked_count(*, promotion_id: int, account_id: int | None = None) -> int:
    qs = Redemption.objects.select_for_update().filter(promotion_id=promotion_id)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    return len(list(qs.values_list("pk", flat=True)))
