"""The daily burn billing needs from the app above it (billing never imports upward).

Burn is the rate of ``GET /usageapi/v1/speed``: paid charge records of running subscriptions,
which live in ``usage`` and ``orders``. ``orders`` registers its set-based form in its
``AppConfig.ready`` (``orders.purchase.speed.burn_per_day``), as it does for statement lines. There
is exactly one provider; evaluating runways without one is a configuration error, never a silent
"no burn".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured

# provider(account_ids, at) -> {account_id: money per day at ``at``}; accounts without burn may be
# left out (they burn 0).
BurnProvider = Callable[[Sequence[int], datetime], Mapping[int, Decimal]]

_provider: list[BurnProvider] = []


def register_burn_rate(provider: BurnProvider) -> None:
    """Called once by the app that owns subscriptions (idempotent for the same function)."""
    if _provider and _provider[0] is not provider:
        raise ImproperlyConfigured("a burn-rate provider is already registered")
    _provider[:] = [provider]


def burn_per_day(account_ids: Sequence[int], at: datetime) -> Mapping[int, Decimal]:
    if not _provider:
        raise ImproperlyConfigured(
            "no burn-rate provider is registered (orders.apps.OrdersConfig.ready does it)"
        )
    if not account_ids:
        return {}
    return _provider[0](account_ids, at)
