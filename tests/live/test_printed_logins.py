"""The logins ``make run`` prints work as printed, in a real browser against the live stack
(issue 17, item 1): credentials are read from ``load_demo``'s output, never from a fixture. The
superuser sees everything; the finance login sees the finance menu and the dashboard; a staff user
without the Finance group sees nothing it may not use."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import VIEWPORT, screenshot
from tests.live.conftest import LiveStack

pytestmark = pytest.mark.browser


def printed_login(stack: LiveStack, label: str) -> tuple[str, str]:
    match = re.search(rf"^{re.escape(label)}\s+(\S+) / (\S+)$", stack.demo_output, re.M)
    assert match, f"make run no longer prints the {label!r} line:\n{stack.demo_output}"
    return match.group(1), match.group(2)


def signed_in(browser: Any, stack: LiveStack, username: str, password: str) -> Any:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(f"{stack.base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
    return page


def test_the_superuser_sees_everything(browser: Any, live_stack: LiveStack) -> None:
    page = signed_in(browser, live_stack, *printed_login(live_stack, "admin login (superuser):"))
    body = page.inner_text("#content")
    assert "Periodic tasks" in body and "Ledger entries" in body and "Users" in body
    screenshot(page, "landing-superuser")


def test_the_finance_login_sees_the_finance_menu_and_dashboard(browser: Any, live_stack: LiveStack) -> None:
    page = signed_in(browser, live_stack, *printed_login(live_stack, "finance staff login:"))
    body = page.inner_text("#content")
    assert "permission to view or edit anything" not in body
    assert "Ledger entries" in body and "Recharge orders" in body
    assert "Periodic tasks" not in body  # operational internals are for superusers
    assert page.locator("#tally-dashboard-link a").count() >= 4  # the finance box: where to start
    screenshot(page, "landing-finance")
    response = page.goto(f"{live_stack.base_url}/admin/dashboard/")
    assert response is not None and response.status == 200
    assert "Finance dashboard" in page.inner_text("body")


def test_staff_without_the_group_sees_nothing(browser: Any, live_stack: LiveStack) -> None:
    live_stack.manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.create_user('plain-staff', password='plain-staff-pass', is_staff=True)",
    )
    page = signed_in(browser, live_stack, "plain-staff", "plain-staff-pass")
    assert "permission to view or edit anything" in page.inner_text("#content")
    assert page.locator("#tally-dashboard-link").count() == 0  # no link to a page it may not open
    screenshot(page, "landing-staff")
    response = page.goto(f"{live_stack.base_url}/admin/dashboard/")
    assert response is not None and response.status == 403
