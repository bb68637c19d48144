"""Issue 13 item 5: the production-mode smoke test.

Tally as a deployment runs it: ``DEBUG=0``, a real ``SECRET_KEY`` and callback secret, gunicorn on a
free port serving ``config.wsgi`` against a fresh SQLite database (migrated first), behind a
pretend TLS proxy (``SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https``; requests that carry
``X-Forwarded-Proto: https`` are the proxied ones). Over HTTP only:

- plain HTTP is redirected to HTTPS (``/healthz`` excepted) and HSTS is sent;
- the ``sandbox`` method is refused with 400 naming what is allowed, ``/sandbox/pay/<id>`` is 404
  for an existing sandbox recharge;
- a callback signed with the published ``dev-callback-secret`` is refused (401) and credits nothing,
  while the deployment's own secret credits (so the refusal is not a broken endpoint);
- the API answers a browser in JSON; ``/healthz`` is ``ok`` per dependency and nothing else;
- ``manage.py check --deploy`` is clean in the same environment.

Skips (with the reason) only where no local port can be opened (``tests.live.conftest.free_port``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from billing.signature import sign
from tests.live.conftest import PY, ROOT, free_port
from tests.security.conftest import CALLBACK_SECRET, production_env

STARTUP_SECONDS = 60
HTTPS = {"X-Forwarded-Proto": "https"}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SEED_ORDERS = """
from billing.models import Account, RechargeOrder
account = Account.objects.get(namespace="smoke")
for public_id, method in (("RSMOKESANDBOX", "sandbox"), ("RSMOKEHTTP", "http")):
    RechargeOrder.objects.create(
        public_id=public_id, account=account, amount="500.0000", currency="CNY", payment_method=method
    )
print("seeded")
"""


@dataclass
class Server:
    base_url: str
    env: dict[str, str]
    log_path: Path

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=180
        )

    def get(self, path: str, *, proxied: bool = True, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, proxied=proxied, **kwargs)

    def request(self, method: str, path: str, *, proxied: bool = True, **kwargs: Any) -> requests.Response:
        headers = {**(HTTPS if proxied else {}), **kwargs.pop("headers", {})}
        return requests.request(
            method, self.base_url + path, headers=headers, timeout=30, allow_redirects=False, **kwargs
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


METRICS_TOKEN = "smoke-metrics-token-0123456789"


def must(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@contextlib.contextmanager
def gunicorn(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = production_env(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'smoke.sqlite3'}",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        TALLY_CURRENCY="CNY",
        LOG_LEVEL="INFO",
        METRICS_TOKEN=METRICS_TOKEN,
    )
    server = Server(f"http://127.0.0.1:{port}", env, tmp_path / "gunicorn.log")
    must(server.manage("migrate", "--noinput"))
    with open(server.log_path, "ab") as log:
        process = subprocess.Popen(  # noqa: S603 - gunicorn from our own environment
            [
                PY,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited {process.returncode}:\n{server.log()}")
            with contextlib.suppress(requests.RequestException):
                if server.get("/healthz").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"gunicorn not healthy within {STARTUP_SECONDS} s:\n{server.log()}")
            time.sleep(0.25)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started: master and worker
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def callback(server: Server, public_id: str, secret: str) -> requests.Response:
    body = json.dumps(
        {"recharge_order_id": public_id, "payment_id": "PAY-SMOKE", "amount": "500.00", "status": "SUCCESS"}
    ).encode()
    return server.request(
        "POST",
        "/internal/v1/billing/callback",
        data=body,
        headers={"Content-Type": "application/json", "X-Tally-Signature": sign(body, secret=secret)},
    )


def test_production_mode_over_http(tmp_path):
    with gunicorn(tmp_path) as server:
        token = must(server.manage("create_api_user", "smoke")).strip().splitlines()[-1]
        assert "seeded" in must(server.manage("shell", "-c", SEED_ORDERS))
        auth = {"Authorization": f"Token {token}"}

        def balance() -> Decimal:
            r = server.get("/api/v1/billing/account", headers=auth)
            assert r.status_code == 200, r.text
            return Decimal(r.json()["data"]["balance"])

        # transport: HTTP -> HTTPS, HSTS on HTTPS, /healthz reachable over plain HTTP
        r = server.get("/api/v1/billing/account", proxied=False, headers=auth)
        assert r.status_code == 301 and r.headers["Location"].startswith("https://127.0.0.1:")
        assert server.get("/healthz", proxied=False).status_code == 200
        r = server.get("/api/v1/billing/account", headers={**auth, "Accept": BROWSER_ACCEPT})
        assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert r.headers["Content-Type"].startswith("application/json") and r.json()["code"] == 0

        # no sandbox: the method is refused, its page does not exist
        r = server.request(
            "POST",
            "/api/v1/billing/recharge",
            headers=auth,
            json={"amount": "100000000", "payment_method": "sandbox", "currency": "CNY"},
        )
        assert r.status_code == 400, r.text
        assert r.json()["code"] == 190304
        assert r.json()["data"]["errors"] == {"payment_method": ["no payment method is enabled"]}
        for path in (
            "/sandbox/pay/RSMOKESANDBOX",
            "/sandbox/pay/RSMOKESANDBOX?token=x",
            "/sandbox/pay/RNOPE",
        ):
            r = server.get(path, headers=auth)
            assert r.status_code == 404 and b"signature" not in r.content.lower(), path

        # the published secret signs nothing; the deployment's own does
        for order in ("RSMOKEHTTP", "RSMOKESANDBOX"):
            r = callback(server, order, "dev-callback-secret")
            assert r.status_code == 401 and r.json()["code"] == 190303, r.text
        assert balance() == Decimal("0")
        r = callback(server, "RSMOKEHTTP", CALLBACK_SECRET)
        assert r.status_code == 200 and r.json()["data"]["outcome"] == "credited", r.text
        assert balance() == Decimal("500")

        # health: ok per check, nothing else (no worker runs here: reported, not fatal)
        r = server.get("/healthz")
        assert r.status_code == 200
        assert r.json() == {
            "code": 0,
            "msg": "OK",
            "data": {
                "database": {"ok": True},
                "broker": {"ok": True},
                "migrations": {"ok": True},
                "worker": {"ok": False},
            },
        }
        # the operator's token (the one /metrics takes) also gets the reasons
        r = server.get("/healthz", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert r.json()["data"]["migrations"] == {"ok": True, "detail": {"pending": []}}
        assert r.json()["data"]["worker"]["detail"]["detail"] == "no worker has answered yet"

        done = server.manage("check", "--deploy")
        assert done.returncode == 0 and "System check identified no issues (0 silenced)." in done.stdout, (
            done.stdout + done.stderr
        )
        assert "Traceback" not in server.log(), server.log()
