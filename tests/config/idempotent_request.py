"""A process that sends one request with an ``Idempotency-Key`` and is SIGKILLed mid-request.

``python -m tests.config.idempotent_request <token> <key> <json body>``. Environment:
``DATABASE_URL`` of the test database, ``TOPUP_HANG`` (``before``/``after`` the ledger credit)
and ``TOPUP_HANG_FLAG`` (a file written when the request reaches that point and hangs).
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("TALLY_TESTING", "1")
    import django

    django.setup()
    from django.test.utils import override_settings, setup_test_environment
    from rest_framework.test import APIClient

    setup_test_environment()  # testserver is an allowed host
    token, key, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with override_settings(ROOT_URLCONF="tests.config.urls_for_tests"):
        r = client.post("/api/test/topup", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    print(r.status_code, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
