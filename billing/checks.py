"""System checks (``manage.py check``) for settings that can make money appear from nothing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


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


@register(Tags.security, deploy=True)
def demo_logins_outside_debug(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """``check --deploy``: a demo login (``load_demo``) whose published password still signs in."""
    if settings.DEBUG:
        return []
    from django.contrib.auth import get_user_model
    from django.db import DatabaseError

    from billing.demo import DEMO_ADMIN, DEMO_STAFF

    try:
        users = {
            u.username: u
            for u in get_user_model().objects.filter(username__in=[DEMO_ADMIN[0], DEMO_STAFF[0]])
        }
    except DatabaseError:
        return []  # no database yet (before migrate): nothing can sign in either
    open_logins = [
        name
        for name, password in (DEMO_ADMIN, DEMO_STAFF)
        if name in users and users[name].check_password(password)
    ]
    if not open_logins:
        return []
    return [
        Error(
            f"the demo login(s) {', '.join(open_logins)} still sign in with the password load_demo "
            "publishes, while DEBUG is off.",
            hint="Change their passwords (manage.py changepassword NAME) or delete them.",
            id="tally.E001",
        )
    ]
