"""Helpers for tests/security: Tally's settings as a deployment sees them (fresh processes).

``config.settings`` decides at import time from the environment, and the suite's own process is a
test process (secrets optional, development defaults). ``run_python`` and ``manage`` start a fresh
interpreter with a production-like environment: the session's test-only variables removed
(``tests.live.conftest.DROPPED_ENV``), ``TALLY_VAR_DIR`` in a temporary directory, ``DEBUG=0`` and
real secrets unless the caller overrides them (``None`` removes a variable).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import DROPPED_ENV, PY, ROOT

SECRET_KEY = secrets.token_urlsafe(48)[:50]
CALLBACK_SECRET = "prod-callback-" + secrets.token_hex(16)


def production_env(var_dir: Path, **overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV and not k.startswith("PYTEST_")}
    for name in list(env):
        # DJANGO_ALLOW_ASYNC_UNSAFE: set by the browser tests' process (check --deploy refuses it)
        if name in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE") or name.startswith(("SECURE_", "PAYMENT_")):
            del env[name]
    env.update(
        {
            "TALLY_VAR_DIR": str(var_dir),
            "TALLY_ENV_FILE": "",  # no make-run .env of the checkout: only what the test sets
            "DEBUG": "0",
            "SECRET_KEY": SECRET_KEY,
            "PAYMENT_CALLBACK_SECRET": CALLBACK_SECRET,
            "PYTHONUNBUFFERED": "1",
        }
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture
def run_python(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_python(code, **env)``: ``python -c code`` with Django set up (settings imported)."""

    def _run(code: str, **env: Any) -> subprocess.CompletedProcess[str]:
        prelude = "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); "
        prelude += "django.setup(); from django.conf import settings; "
        return subprocess.run(  # noqa: S603 - our own interpreter
            [PY, "-c", prelude + code],
            cwd=ROOT,
            env=production_env(tmp_path, **env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return _run


@pytest.fixture
def manage(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``manage(*args, env={...})``: ``manage.py ARGS`` in a production-like environment."""

    def _manage(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [PY, "manage.py", *args],
            cwd=ROOT,
            env=production_env(tmp_path, **(env or {})),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return _manage
