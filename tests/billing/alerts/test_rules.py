"""The alert rules one by one (pure functions, no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.alerts.models import AlertKind
from billing.alerts.rules import is_under, runway_days, thresholds_in_force

D = Decimal


@pytest.fixture(autouse=True)
def _defaults(settings):
    settings.BALANCE_ALERT_BELOW = D("50")
    settings.RUNWAY_ALERT_DAYS = 7


def test_no_own_value_inherits_the_deployment_default():
    t = thresholds_in_force(balance_below=None, runway_below_days=None)
    assert (t.balance_below, t.runway_below_days, t.balance_is_default, t.runway_is_default) == (
        D("50"),
        7,
        True,
        True,
    )


def test_own_values_win_and_zero_switches_an_alert_off():
    t = thresholds_in_force(balance_below=D("0"), runway_below_days=3)
    assert (t.balance_below, t.runway_below_days, t.balance_is_default, t.runway_is_default) == (
        None,
        3,
        False,
        False,
    )
    assert not is_under(AlertKind.BALANCE_LOW, thresholds=t, balance=D("0"), per_day=D("1"))


def test_a_default_of_zero_is_off(settings):
    settings.BALANCE_ALERT_BELOW = D("0")
    settings.RUNWAY_ALERT_DAYS = 0
    t = thresholds_in_force(balance_below=None, runway_below_days=None)
    assert (t.balance_below, t.runway_below_days) == (None, None)
    assert not is_under(AlertKind.RUNWAY_LOW, thresholds=t, balance=D("0.01"), per_day=D("100"))


def test_runway_is_balance_over_daily_burn_rounded_down_and_none_without_burn():
    assert runway_days(balance=D("100"), per_day=D("30")) == D("3.33")
    assert runway_days(balance=D("0"), per_day=D("30")) == D("0.00")
    assert runway_days(balance=D("100"), per_day=D("0")) is None


def test_balance_low_is_strictly_below():
    t = thresholds_in_force(balance_below=D("50"), runway_below_days=0)
    assert is_under(AlertKind.BALANCE_LOW, thresholds=t, balance=D("49.9999"), per_day=D("0"))
    assert not is_under(AlertKind.BALANCE_LOW, thresholds=t, balance=D("50.0000"), per_day=D("0"))


def test_runway_low_is_compared_exactly_not_through_the_rounded_days():
    t = thresholds_in_force(balance_below=D("0"), runway_below_days=3)
    # 3 days of 33.3334 is 100.0002: a balance of 100.0001 is (just) under, shown as 2.99 days
    assert is_under(AlertKind.RUNWAY_LOW, thresholds=t, balance=D("100.0001"), per_day=D("33.3334"))
    assert not is_under(AlertKind.RUNWAY_LOW, thresholds=t, balance=D("100.0002"), per_day=D("33.3334"))


def test_nothing_burning_never_has_a_low_runway():
    t = thresholds_in_force(balance_below=D("0"), runway_below_days=30)
    assert not is_under(AlertKind.RUNWAY_LOW, thresholds=t, balance=D("0"), per_day=D("0"))
