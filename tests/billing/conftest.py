from __future__ import annotations

from typing import Any

import pytest

from tests.billing.factories import grant


@pytest.fixture(autouse=True)
def _billing_settings(settings: Any) -> None:
    settings.TALLY_CURRENCY = "CNY"
    settings.TALLY_TIME_ZONE = "Asia/Shanghai"
    settings.PAYMENT_CALLBACK_SECRET = "test-secret"
    settings.PAYMENT_CALLBACK_OLD_SECRETS = ["old-secret"]
    settings.PAYMENT_SERVICE_URL = ""
    settings.PUBLIC_BASE_URL = "http://testserver"


@pytest.fixture
def internal_api(make_user: Any, client_for: Any) -> Any:
    svc = grant(make_user("metering"), "use_internal_api")
    return client_for(svc)
