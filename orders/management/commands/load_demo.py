from __future__ import annotations

import importlib
import io
from typing import Any

from django.conf import settings
from django.core.management import CommandError
from django.db import transaction

from config.commands import TallyCommand

DEMO_APPS = ("plans", "billing", "usage", "orders")


class Command(TallyCommand):
    help = "Load demo data (idempotent): catalog, users, a funded demo wallet, sample orders."

    def handle(self, *args: Any, **options: Any) -> None:
        from billing.demo import DEMO_ADMIN, DEMO_API_USER, DEMO_STAFF
        from billing.models import Account

        if not settings.DEMO_DATA_ENABLED:
            # the demo's logins have published passwords (admin is a superuser): never on a
            # deployment by accident (docs/security.md)
            raise CommandError(
                "load_demo creates logins with published passwords; it runs only with DEBUG=1 "
                "(make run) or DEMO_DATA_ENABLED=1"
            )
        token = ""
        for app_label in DEMO_APPS:
            with transaction.atomic():
                result = importlib.import_module(f"{app_label}.demo").load(
                    self.stdout if self.verbosity else io.StringIO()
                )
            if isinstance(result, dict) and result.get("token"):
                token = result["token"]
        self.say("")
        self.say(f"admin login (superuser): {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}")
        self.say(f"finance staff login:     {DEMO_STAFF[0]} / {DEMO_STAFF[1]}")
        self.say(f"demo API token:          {token}")
        # After every app's demo (the sample orders are paid from it), not after billing's credit.
        balance = Account.objects.get(namespace=DEMO_API_USER).balance
        self.say(f"demo wallet balance:     {balance} (namespace {DEMO_API_USER})")
