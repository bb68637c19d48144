"""Browser fixtures: headless Debian Chromium driven by Playwright's sync API against live_server.

Never ``playwright install``: the browser is the system's ``/usr/bin/chromium``; without it these
tests skip with a reason. Screenshots (1366x768, what a finance laptop shows) go to
``docs/screenshots/`` (linked from docs/admin.md) only when ``TALLY_SCREENSHOTS=1`` is set, so an
ordinary test run leaves the tree clean; refresh them deliberately and look at each before committing:
``TALLY_SCREENSHOTS=1 .venv/bin/python -m pytest tests/e2e -m browser``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an asyncio loop in this thread; Django's ORM calls made by the test
# itself (fixtures, assertions) would otherwise raise SynchronousOnlyOperation.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}


def screenshots_wanted() -> bool:
    return os.environ.get("TALLY_SCREENSHOTS", "") == "1"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def finance_user(transactional_db: Any, django_user_model: Any) -> Any:
    from config.admin_tools import sync_finance_group

    group = sync_finance_group()  # the flush after a transactional test removes the migration's rows
    user = django_user_model.objects.create_user(username="fiona", password="pass-fiona", is_staff=True)
    user.groups.add(group)
    return user


def login(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path | None:
    """``docs/screenshots/<name>.png`` of the 1366x768 viewport, only with ``TALLY_SCREENSHOTS=1``."""
    if not screenshots_wanted():
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
