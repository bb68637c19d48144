"""/api/docs/ (Swagger UI) and /api/redoc/ work with the network blocked: everything they load
comes from this server (drf-spectacular-sidecar), and "try it out" sends a real request with a
token (issue 18, item 1)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def offline(page: Any, base_url: str) -> list[str]:
    """Abort every request that leaves this server; the list says what was tried."""
    blocked: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(base_url):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return blocked


def test_swagger_ui_loads_offline_and_tries_an_operation_with_a_token(page, live_server, django_user_model):
    from rest_framework.authtoken.models import Token

    from billing.services import account_get_or_create

    user = django_user_model.objects.create_user(username="docs-reader")
    account_get_or_create(namespace="docs-reader", member=user)
    token = Token.objects.create(user=user).key
    blocked = offline(page, live_server.url)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert blocked == []

    # What "Authorize" does with the tokenAuth scheme's value (Swagger UI's own API).
    page.evaluate("token => ui.preauthorizeApiKey('tokenAuth', token)", f"Token {token}")
    operation = page.locator(".opblock-get", has_text="/api/v1/billing/account").first
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/billing/account")) as answer:
        operation.locator("button.execute").click()
    response = answer.value
    assert response.status == 200 and response.json()["data"]["namespace"] == "docs-reader"
    assert blocked == []


def test_redoc_loads_offline(page, live_server):
    blocked = offline(page, live_server.url)
    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("h1", timeout=20_000)
    assert "Tally API" in page.locator("h1").first.inner_text()
    assert page.locator("[data-section-id^='tag/']").count() > 3  # the operations, by tag
    # Only ReDoc's "API docs by Redocly" badge image is remote (cosmetic; nothing waits for it).
    assert [url for url in blocked if not url.endswith("/redoc/logo-mini.svg")] == []
