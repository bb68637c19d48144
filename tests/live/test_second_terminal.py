"""After ``make run``, every README command works as written in a second terminal (issue 18,
item 2): ``make run`` wrote ``.env``, and ``manage.py`` without ``DEBUG``/``SECRET_KEY``/``PORT`` in
its environment sees the server's settings through it; pay links point at the server's port."""

from __future__ import annotations

from config.dotenv import read_pairs
from tests.live.conftest import LiveStack


def test_make_run_wrote_the_checkouts_settings(live_stack: LiveStack) -> None:
    pairs = read_pairs((live_stack.var_dir / ".env").read_text())
    port = live_stack.base_url.rsplit(":", 1)[1]
    assert pairs["DEBUG"] == "1" and pairs["PORT"] == port
    assert pairs["PUBLIC_BASE_URL"] == live_stack.base_url
    assert len(pairs["SECRET_KEY"]) >= 50 and len(set(pairs["SECRET_KEY"])) >= 5
    assert "DEBUG" not in live_stack.cli_env and "SECRET_KEY" not in live_stack.cli_env


def test_create_api_user_in_a_second_terminal_gives_a_working_token(live_stack: LiveStack) -> None:
    done = live_stack.manage("create_api_user", "second-terminal-bob")
    token = done.stdout.strip().splitlines()[-1]
    account = live_stack.api("GET", "/api/v1/billing/account", token=token)
    assert account["namespace"] == "second-terminal-bob"


def test_pay_links_point_at_the_servers_port(live_stack: LiveStack) -> None:
    token = live_stack.token("second-terminal-payer")
    body = {"amount": "10.00", "currency": "CNY", "payment_method": "sandbox"}
    created = live_stack.api("POST", "/api/v1/billing/recharge", token=token, json=body)
    assert created["pay_url"].startswith(live_stack.base_url + "/"), created
