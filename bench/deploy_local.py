"""A multi-process Tally deployment on this machine, one billing cycle over it, then stop.

``python -m bench.deploy_local`` (see docs/deploy.md): MariaDB + Redis on loopback, a fresh
``tally_deploy`` database, ``migrate``, ``setup_periodic_tasks``, gunicorn (3 processes), three
Celery workers, exactly one beat. Then, through the real HTTP API, users open prepaid purchase
orders; with ``RENEWAL_LEAD_DAYS=40`` every order is due for renewal at once, and the billing cycle
is sent to the workers (three ``orders.run_renewals`` messages, plus whatever beat sends). It checks
that every order was renewed exactly once, balance == ledger sum on every account, /healthz is
200, and stops every process it started (by pid). Exit 0 when all checks hold.

Options (environment): ``DEPLOY_USERS`` (default 20), ``DEPLOY_ORDERS_PER_USER`` (5),
``DEPLOY_DATABASE_URL`` (``mysql://root@127.0.0.1:3306/tally_deploy``), ``DEPLOY_BROKER_URL``
(``redis://127.0.0.1:6379/13``), ``DEPLOY_KEEP=1`` keeps the processes running until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DB_URL = os.environ.get("DEPLOY_DATABASE_URL", "mysql://root@127.0.0.1:3306/tally_deploy")
BROKER = os.environ.get("DEPLOY_BROKER_URL", "redis://127.0.0.1:6379/13")
USERS = int(os.environ.get("DEPLOY_USERS", "20"))
ORDERS_PER_USER = int(os.environ.get("DEPLOY_ORDERS_PER_USER", "5"))
LOG_DIR = ROOT / "var" / "deploy"


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.pop("TALLY_TESTING", None)
    e.update(
        {
            "DATABASE_URL": DB_URL,
            "CELERY_BROKER_URL": BROKER,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": e.get("SECRET_KEY") or "deploy-local-secret-change-me",
            "PAYMENT_CALLBACK_SECRET": e.get("PAYMENT_CALLBACK_SECRET") or "deploy-local-callback-secret",
            "SECURE_SSL_REDIRECT": "0",  # local gunicorn over plain HTTP, no TLS proxy in front
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "RENEWAL_LEAD_DAYS": "40",  # every new monthly order is due for renewal at once
            "TALLY_TIME_ZONE": e.get("TALLY_TIME_ZONE", "Asia/Shanghai"),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    return e


def step(msg: str) -> None:
    print(f"[deploy] {msg}", flush=True)


def manage(*args: str) -> str:
    out = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env(), capture_output=True, text=True, check=True
    )
    return out.stdout


def prerequisites() -> str | None:
    import MySQLdb
    import redis

    p = urlparse(DB_URL)
    try:
        conn = MySQLdb.connect(
            host=p.hostname, port=p.port or 3306, user=p.username or "root", passwd=p.password or ""
        )
        cur = conn.cursor()
        name = p.path.lstrip("/")
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        conn.close()
    except MySQLdb.Error as exc:
        return f"MariaDB not reachable: {exc}"
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=2).flushdb()
    except redis.RedisError as exc:
        return f"Redis not reachable: {exc}"
    return None


class Deployment:
    def __init__(self, port: int) -> None:
        self.port = port
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        commands = {
            "web": [
                PY, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                "--workers", "3", "--worker-class", "gthread", "--threads", "2", "--timeout", "60",
            ],
            **{
                f"worker{i}": [
                    PY, "-m", "celery", "-A", "config", "worker", "-n", f"worker{i}@%h", "--concurrency", "1",
                    "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                ]
                for i in (1, 2, 3)
            },
            "beat": [
                PY, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING",
                "--scheduler", "config.beat:TallyScheduler",
            ],
        }  # fmt: skip
        for name, cmd in commands.items():
            log = open(LOG_DIR / f"{name}.log", "wb")  # noqa: SIM115 - kept open while the process runs
            self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=log, stderr=log)
            step(f"started {name} (pid {self.procs[name].pid})")

    def stop(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                step(f"stopping {name} (pid {proc.pid})")
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def alive(self) -> list[str]:
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        conn = HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, json.loads(data or b"null")

    def wait_healthy(self, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            dead = self.alive()
            if dead:
                raise RuntimeError(f"{dead} exited; see {LOG_DIR}")
            try:
                status, last = self.request("GET", "/healthz")
                if status == 200:
                    return dict(last)
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"/healthz not 200 within {timeout} s: {last}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def django_setup() -> None:
    os.environ.update(env())
    import django

    django.setup()


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def main() -> int:
    reason = prerequisites()
    if reason:
        step(f"SKIP: {reason}")
        return 0
    step(f"database {DB_URL.split('@')[-1]}, broker {BROKER}")
    step("migrate")
    manage("migrate", "--noinput", "-v", "0")
    step("setup_periodic_tasks")
    manage("setup_periodic_tasks")
    django_setup()
    from datetime import UTC, datetime
    from decimal import Decimal

    from django.db.models import Count, Sum

    from billing.models import Account, LedgerEntry
    from billing.services import account_credit
    from orders.models import PurchaseOrder
    from plans.models import BillingMode, Cycle, Plan, PriceVersion
    from usage.models import UsageRecord

    plan, _ = Plan.objects.get_or_create(
        plan_id="deploy-vol",
        defaults={
            "name": "deploy volume",
            "plan_type": "volume",
            "region": "cn-north-1",
            "billing_mode": BillingMode.PREPAID,
            "cycle": Cycle.MONTH,
        },
    )
    PriceVersion.objects.get_or_create(
        plan=plan, effective_from=datetime(2025, 1, 1, tzinfo=UTC), defaults={"price": Decimal("10")}
    )
    step("create_api_user deploy-ops --staff (what an operator runs once)")
    manage("create_api_user", "deploy-ops", "--staff")
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from billing.services import account_get_or_create

    tokens = {}
    for i in range(USERS):  # customers: same rows create_api_user writes, without a process each
        name = f"deploy-user-{i}"
        user, _ = get_user_model().objects.get_or_create(username=name)
        tokens[name] = Token.objects.get_or_create(user=user)[0].key
        account = account_get_or_create(namespace=name, member=user)
        account_credit(account_id=account.pk, amount=Decimal("100"), idempotency_key="deploy:fund")

    deployment = Deployment(free_port())
    ok = False
    try:
        deployment.start()
        health = deployment.wait_healthy()
        step(f"/healthz 200: {health.get('data')}")
        created = 0
        for name, token in tokens.items():
            for j in range(ORDERS_PER_USER):
                status, body = deployment.request(
                    "POST",
                    "/usageapi/v1/orders",
                    {
                        "region": "cn-north-1",
                        "plan_id": "deploy-vol",
                        "parameters": {"resource_name": f"vol-{j}"},
                    },
                    token=token,
                )
                if status != 201:
                    raise RuntimeError(f"create order for {name}: {status} {body}")
                created += 1
        step(f"{created} purchase orders created through gunicorn; sending the billing cycle to 3 workers")
        from bench.common import send_tasks

        t0 = time.monotonic()
        send_tasks(BROKER, "orders.run_renewals", 3)
        orders = PurchaseOrder.objects.filter(plan=plan)
        while time.monotonic() - t0 < 300:
            renewed = UsageRecord.objects.filter(
                kind="renew", order_ref__in=orders.values("order_id")
            ).count()
            if renewed >= created:
                break
            time.sleep(1)
        time.sleep(3)  # any straggling duplicate (beat's own send) has a chance to misbehave
        elapsed = time.monotonic() - t0
        per_order = list(
            UsageRecord.objects.filter(kind="renew", order_ref__in=orders.values("order_id"))
            .values("order_ref")
            .annotate(n=Count("id"))
            .values_list("n", flat=True)
        )
        renewed_once = sum(1 for n in per_order if n == 1)
        twice = sum(1 for n in per_order if n > 1)
        bad = []
        for account in Account.objects.filter(namespace__startswith="deploy-user-"):
            total = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or Decimal(0)
            if total != account.balance:
                bad.append(account.namespace)
        health = deployment.wait_healthy(10)
        dead = deployment.alive()
        step(
            f"billing cycle: {renewed_once}/{created} orders renewed exactly once, {twice} more than once, "
            f"{created - renewed_once - twice} not renewed, in {elapsed:.1f} s"
        )
        step(f"balance == ledger sum on every account: {'yes' if not bad else f'NO {bad}'}")
        step(
            f"/healthz after the cycle: 200; processes still running: {'all' if not dead else f'NOT {dead}'}"
        )
        ok = renewed_once == created and not twice and not bad and not dead
        if os.environ.get("DEPLOY_KEEP") == "1":
            step(f"running on http://127.0.0.1:{deployment.port}/ until Ctrl-C")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        deployment.stop()
    step("PASS" if ok else f"FAIL (logs in {LOG_DIR})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
