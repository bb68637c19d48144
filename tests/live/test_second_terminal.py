"""After ``make run``, every README command works as written in a second terminal (issue 18,
item 2): ``make run`` wrote ``.env``, and ``manage.py`` without ``DEBUG``/``SECRET_KEY``/``PORT`` in
its environment sees the server's settings through it; pay links point at the server's port."""

from __future__ import annotations

from decimal import Decimal

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


def test_a_requests_id_is_on_the_worker_lines_of_the_task_it_sent(live_stack: LiveStack) -> None:
    """The callback's X-Request-ID travels with ``usage.settle_arrears`` into the worker's log
    (issue 18, item 3: task lines showed ``[-]``)."""
    import json
    import uuid

    from billing.signature import sign
    from tests.live.conftest import LIVE_CALLBACK_SECRET

    token = live_stack.token("second-terminal-logger")
    body = {"amount": "5.00", "currency": "CNY", "payment_method": "sandbox"}
    rid = live_stack.api("POST", "/api/v1/billing/recharge", token=token, json=body)["recharge_order_id"]
    callback = json.dumps(
        {"recharge_order_id": rid, "payment_id": f"PAY-{rid}", "amount": "5.00", "status": "SUCCESS"}
    ).encode()
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    r = live_stack.http(
        "POST",
        "/internal/v1/billing/callback",
        data=callback,
        headers={
            "Content-Type": "application/json",
            "X-Tally-Signature": sign(callback, secret=LIVE_CALLBACK_SECRET),
            "X-Request-ID": request_id,
        },
    )
    assert r.status_code == 200 and r.headers["X-Request-ID"] == request_id, r.text

    def worker_line() -> str | None:
        for line in live_stack.log_text().splitlines():
            if f"[{request_id}]" in line and "usage.settle_arrears" in line:
                return line
        return None

    line = live_stack.wait_for(worker_line, timeout=60, what="a worker line with the request id")
    assert "celery" in line  # the worker's own logger, not the web process's


def quickstart_script() -> str:
    """The ``bash`` blocks of docs/api.md's Quickstart section, in order."""
    import re

    from tests.live.conftest import ROOT

    text = (ROOT / "docs" / "api.md").read_text()
    start = text.index("## Quickstart")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert len(blocks) >= 4, "the quickstart lost its commands"
    return "\n".join(blocks)


def test_the_api_quickstart_runs_as_written(live_stack: LiveStack) -> None:
    """docs/api.md's quickstart, every command, in a second terminal's bash (issue 18, item 1)."""
    import subprocess

    from tests.live.conftest import ROOT

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", quickstart_script()],
        cwd=ROOT,
        env={**live_stack.cli_env, "TALLY": live_stack.base_url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    printed = done.stdout.split()
    assert printed[:3] == ["credited", "100.0000", "True"], done.stdout  # funded; the preview said drytry
    assert printed[3] == "1", done.stdout  # the meter event was accepted
    assert Decimal(printed[4]) > 0, done.stdout  # the void refunded what the billed hour charged for it
    # the hour's record and the void's negative correction; the report answered
    assert int(printed[5]) >= 2 and printed[6] == "0", done.stdout
