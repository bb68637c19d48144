"""The live stack: web server, Celery worker and beat started the way ``make run`` starts them.

``make run`` is ``python -m config.dotenv`` (the checkout's ``.env``), ``manage.py migrate``,
``manage.py load_demo``, then ``python -m config.devrun``
(runserver, ``celery -A config worker``, ``celery -A config beat``). ``start_live_stack`` does
exactly that in fresh OS processes, with the embedded defaults (SQLite and kombu's filesystem
broker) in a temporary ``TALLY_VAR_DIR`` and a random free port, and gives tests HTTP and
``manage.py`` to talk to it: nothing runs in the test's process, so an effect that crosses
processes (a task sent by the web process and run by the worker) really has to cross them.

Fixtures:
- ``live_stack``: one stack per test module (starting one takes ~15 s); tests of a module share it
  and must not assume an empty database (use unique names).
- ``start_live_stack(**env)``: a context manager for a stack with other settings.

``LiveStack.manage`` runs as from a second terminal: without the ``DEBUG`` and ``PORT`` that
``make run`` had, so only the ``.env`` it wrote (``TALLY_ENV_FILE``, in the stack's var/) makes the
command see the server's settings.

Environment of the stack: ``DEBUG=1`` (as ``make run``), ``PAYMENT_CALLBACK_SECRET`` set explicitly
(``LIVE_CALLBACK_SECRET``), ``TALLY_TIME_ZONE=Asia/Shanghai``; ``DATABASE_URL``,
``CELERY_BROKER_URL`` and the test-only variables of this session are removed so the defaults
apply. Everything is stopped (SIGINT to devrun, which stops its children; then SIGKILL to the
process group as a last resort) and the directory removed afterwards.

Skips (with the reason) only where no local port can be opened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
LIVE_CALLBACK_SECRET = "live-stack-callback-secret"
STARTUP_SECONDS = 90
DROPPED_ENV = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "TALLY_TESTING",
    "TALLY_VAR_DIR",
    "PORT",
    "DJANGO_SETTINGS_MODULE",
)
T = TypeVar("T")


def free_port() -> int:
    """A port the OS says is free now (bind to port 0); skips the test where none can be opened."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    except OSError as exc:
        pytest.skip(f"cannot open a local TCP port for the live stack: {exc}")


@dataclass
class LiveStack:
    base_url: str
    var_dir: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None  # devrun; None while migrating
    tokens: dict[str, str] = field(default_factory=dict)
    # A second terminal: no DEBUG and no PORT of its own (make run's .env supplies them).
    cli_env: dict[str, str] = field(default_factory=dict)
    demo_output: str = ""  # what ``load_demo`` printed (the logins make run shows)

    # --- manage.py ----------------------------------------------------------------------------

    def manage(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """``python manage.py ARGS`` against the stack's database; stdout/stderr captured."""
        done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [PY, "manage.py", *args],
            cwd=ROOT,
            env=self.cli_env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
        return done

    def token(self, username: str, *, staff: bool = False, namespaces: tuple[str, ...] = ()) -> str:
        """An API token for ``username`` (``manage.py create_api_user``; the personal namespace is
        the username)."""
        if username not in self.tokens:
            # staff powers are permissions (issue 13): a staff token gets them from the Finance group
            args = ["create_api_user", username, *(["--staff", "--group", "Finance"] if staff else [])]
            for ns in namespaces:
                args += ["--namespace", ns]
            self.tokens[username] = self.manage(*args).stdout.strip().splitlines()[-1]
        return self.tokens[username]

    # --- HTTP ---------------------------------------------------------------------------------

    def http(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Token {token}"
        return requests.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def api(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        """An API call that must succeed: returns the envelope's ``data``."""
        r = self.http(method, path, token=token, **kwargs)
        assert r.status_code < 400, f"{method} {path}: {r.status_code} {r.text[:2000]}"
        body = r.json()
        assert body["code"] == 0, body
        return body["data"]

    # --- waiting and logs ---------------------------------------------------------------------

    def wait_for(self, probe: Callable[[], T], *, timeout: float = 30, what: str = "condition") -> T:
        """Poll ``probe`` until it returns something truthy; fail with the stack's log tail."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: not within {timeout:.0f} s\n--- stack log ---\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def stack_env(var_dir: Path, port: int, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV and not k.startswith("PYTEST_")}
    env.update(
        {
            "TALLY_VAR_DIR": str(var_dir),
            "TALLY_ENV_FILE": str(var_dir / ".env"),  # make run's .env, in the stack's own var/
            "PORT": str(port),
            "DEBUG": "1",
            "PAYMENT_CALLBACK_SECRET": LIVE_CALLBACK_SECRET,
            "TALLY_TIME_ZONE": "Asia/Shanghai",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
        }
    )
    env.update(overrides)
    return env


def _ready(stack: LiveStack) -> bool:
    assert stack.process is not None
    if stack.process.poll() is not None:
        raise AssertionError(f"make run's processes exited ({stack.process.returncode}):\n{stack.log_tail()}")
    log = stack.log_text()
    if " ready." not in log or "beat: Starting" not in log:
        return False
    try:
        return requests.get(stack.base_url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # devrun stops web, worker and beat
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything left of the group we started
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def start_live_stack(*, demo: bool = True, **env_overrides: str) -> Iterator[LiveStack]:
    """Migrate, load the demo (``demo=False`` skips it), start ``config.devrun``; stop and clean up."""
    var_dir = Path(tempfile.mkdtemp(prefix="tally-live-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        port = free_port()
        env = stack_env(var_dir, port, **env_overrides)
        cli_env = {k: v for k, v in env.items() if k not in ("DEBUG", "PORT") or k in env_overrides}
        subprocess.run([PY, "-m", "config.dotenv"], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
        setup = LiveStack(f"http://127.0.0.1:{port}", var_dir, env, var_dir / "stack.log", cli_env=cli_env)
        setup.manage("migrate", "--noinput")
        demo_output = setup.manage("load_demo").stdout if demo else ""
        with open(setup.log_path, "ab") as log:
            process = subprocess.Popen(  # noqa: S603 - make run's own entry point
                [PY, "-m", "config.devrun"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # one process group: devrun and its three children
            )
        stack = LiveStack(
            setup.base_url, var_dir, env, setup.log_path, process, cli_env=cli_env, demo_output=demo_output
        )
        stack.wait_for(lambda: _ready(stack), timeout=STARTUP_SECONDS, what="web, worker and beat ready")
        yield stack
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def live_stack() -> Iterator[LiveStack]:
    with start_live_stack() as stack:
        yield stack


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed live test carries its stack's log tail and whether ``make run`` still runs: a
    request refused by a stack that stopped says nothing of why on its own."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        if isinstance(value, LiveStack):
            state = "running" if value.process and value.process.poll() is None else "exited"
            report.sections.append((f"live stack {name!r} ({state})", value.log_tail(120)))
