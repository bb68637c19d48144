"""The alert rules, pure (no database): thresholds in force, runway, and under / recovered.

- Effective threshold: the account's own value, else the deployment default (settings
  ``BALANCE_ALERT_BELOW``, ``RUNWAY_ALERT_DAYS``); ``0`` means off.
- Runway (days) = balance / daily burn; no burn (nothing running, or nothing paid for now) is no
  runway at all (``None``: it never runs out, and a runway alert cannot be under its threshold).
- ``balance_low`` when balance < threshold; ``runway_low`` when runway < threshold days. Anything
  else (including a threshold switched off) is "recovered", which re-arms a fired alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.conf import settings

from billing.alerts.models import AlertKind

DAYS_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Thresholds:
    balance_below: Decimal | None  # None: off
    runway_below_days: int | None  # None: off
    balance_is_default: bool
    runway_is_default: bool

    def value(self, kind: str) -> Decimal | None:
        if kind == AlertKind.BALANCE_LOW:
            return self.balance_below
        return None if self.runway_below_days is None else Decimal(self.runway_below_days)


def default_balance_below() -> Decimal:
    return Decimal(str(settings.BALANCE_ALERT_BELOW))


def default_runway_below_days() -> int:
    return int(settings.RUNWAY_ALERT_DAYS)


def thresholds_in_force(*, balance_below: Decimal | None, runway_below_days: int | None) -> Thresholds:
    """The account's stored values (``None``: inherit) resolved against the deployment default."""
    balance = default_balance_below() if balance_below is None else Decimal(balance_below)
    runway = default_runway_below_days() if runway_below_days is None else int(runway_below_days)
    return Thresholds(
        balance_below=balance if balance > 0 else None,
        runway_below_days=runway if runway > 0 else None,
        balance_is_default=balance_below is None,
        runway_is_default=runway_below_days is None,
    )


def runway_days(*, balance: Decimal, per_day: Decimal) -> Decimal | None:
    """Whole days and hundredths left at the current burn, rounded down (never optimistic)."""
    if per_day <= 0:
        return None
    return (Decimal(balance) / Decimal(per_day)).quantize(DAYS_PLACES, rounding=ROUND_DOWN)


def is_under(kind: str, *, thresholds: Thresholds, balance: Decimal, per_day: Decimal) -> bool:
    if kind == AlertKind.BALANCE_LOW:
        return thresholds.balance_below is not None and balance < thresholds.balance_below
    if thresholds.runway_below_days is None or per_day <= 0:
        return False
    # Compared exactly (balance < N x burn), not through the rounded figure shown.
    return Decimal(balance) < Decimal(thresholds.runway_below_days) * Decimal(per_day)
