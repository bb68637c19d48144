"""System checks (``manage.py check``) for settings that can make money appear from nothing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=False)
def sandbox_outside_debug(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if getattr(settings, "TALLY_TEST_RUN", False):
        return []  # the test suite runs the sandbox without DEBUG on purpose (docs/security.md)
    if getattr(settings, "PAYMENT_SANDBOX_ENABLED", False) and not settings.DEBUG:
        return [
            Warning(
                "PAYMENT_SANDBOX_ENABLED is on while DEBUG is off: the sandbox payment method and its "
                "pay page let any user credit money that was never paid.",
                hint="Unset PAYMENT_SANDBOX_ENABLED on a deployment that handles real money.",
                id="tally.W001",
            )
        ]
    return []
