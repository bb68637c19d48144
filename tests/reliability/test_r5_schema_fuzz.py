"""R5: schemathesis against ``/api/schema/`` on a live server (docs/reliability.md).

Every operation of the published OpenAPI schema gets a few generated requests (valid and invalid
bodies, parameters, path ids) over real HTTP, authenticated with a token of a staff user who may
also call the internal API (so requests reach the deepest code, not only the permission check).
Must show: no 5xx, no traceback or HTML page in any body, every error is the ``{code, msg}``
envelope. Examples are few and derandomized so it runs in well under a minute and never flakes;
``R5_MAX_EXAMPLES=50`` digs deeper by hand.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import requests
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.checks import ALL_CHECKS  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("R5_MAX_EXAMPLES", "3"))
SKIP_OPERATIONS: set[tuple[str, str]] = set()
# Operations that call an external service which is deliberately absent here (PLAN_SERVICE_URL is
# unset): their contract answer is 503 in the envelope ("upstream unavailable"), not a crash.
EXTERNAL_503 = {("POST", "/api/v1/plans/sync")}


def _check_envelope(case: Any, response: requests.Response, problems: list[str]) -> None:
    where = f"{case.method} {case.formatted_path}"
    text = response.text or ""
    if "Traceback (most recent call last)" in text or "<html" in text[:200].lower():
        problems.append(f"{where}: {response.status_code} carries a traceback or HTML page")
        return
    if response.status_code >= 400:
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            problems.append(f"{where}: {response.status_code} body is not JSON: {text[:200]!r}")
            return
        if not (
            isinstance(body, dict) and isinstance(body.get("code"), int) and isinstance(body.get("msg"), str)
        ):
            problems.append(f"{where}: {response.status_code} body is not the envelope: {text[:200]!r}")
        elif body["code"] == 0:
            problems.append(f"{where}: {response.status_code} with code 0")


@pytest.mark.django_db(transaction=True)
def test_r5_every_operation_answers_without_5xx_and_in_the_envelope(live_server, django_user_model):
    user = django_user_model.objects.create_user(username="fuzzer", password="x", is_staff=True)
    # A transactional test's flush may have left the permission table without it: make sure it exists.
    from django.contrib.contenttypes.models import ContentType

    from billing.models import Account

    ContentType.objects.clear_cache()
    perm, _ = Permission.objects.get_or_create(
        codename="use_internal_api",
        content_type=ContentType.objects.get_for_model(Account),
        defaults={"name": "Can call the internal billing API"},
    )
    user.user_permissions.add(perm)
    token = Token.objects.create(user=user).key
    headers = {"Authorization": f"Token {token}"}

    schema_url = f"{live_server.url}/api/schema/?format=json"
    raw = requests.get(schema_url, headers=headers, timeout=30)
    assert raw.status_code == 200, raw.text[:500]
    schema = schemathesis.from_dict(raw.json(), base_url=live_server.url)

    problems: list[str] = []
    operations = 0
    calls = [0]
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP_OPERATIONS:
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(headers=headers, timeout=30)
            calls[0] += 1
            external = (
                case.method.upper(),
                case.operation.path,
            ) in EXTERNAL_503 and response.status_code == 503
            if not external:
                try:
                    # The explicit headers tell the ignored-auth check which credentials to take
                    # away (it then expects 401 without them and with invalid ones).
                    case.validate_response(
                        response,
                        checks=ALL_CHECKS,
                        headers=headers,
                        transport_kwargs={"headers": headers, "timeout": 30},
                    )
                except AssertionError as exc:  # collected: one run reports every failing operation
                    detail = " ".join(str(exc).split())[:300]
                    problems.append(f"{case.method} {case.formatted_path}: {response.status_code} {detail}")
            _check_envelope(case, response, problems)

        run()
    assert operations > 0, "the schema lists no operation"
    assert calls[0] >= operations
    assert not problems, "\n".join(sorted(set(problems))[:60])
