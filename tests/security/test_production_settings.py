"""Issue 13 item 2: production settings from the environment, secure by default without DEBUG.

Settings are decided at import, so the defaults are read in fresh processes with a deployment's
environment (``run_python`` / ``manage`` of tests/security/conftest.py); the suite's own process
checks what the running app does with them (JSON only, the anonymous health check).
"""

from __future__ import annotations

import json
import logging

import pytest

SHOW = (
    "import json; print(json.dumps({k: getattr(settings, k) for k in ("
    "'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
    "'SECURE_HSTS_PRELOAD', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_PROXY_SSL_HEADER')}"
    " | {'renderers': settings.REST_FRAMEWORK['DEFAULT_RENDERER_CLASSES']}))"
)
JSON_ONLY = ["config.api.envelope.EnvelopeJSONRenderer"]
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def shown(run_python, **env):
    done = run_python(SHOW, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_secure_by_default_without_debug(run_python):
    assert shown(run_python) == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": None,
        "renderers": JSON_ONLY,
    }


def test_each_switch_comes_from_the_environment(run_python):
    got = shown(
        run_python,
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
        SECURE_HSTS_PRELOAD="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
    )
    assert got == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "renderers": JSON_ONLY,
    }
    bad = run_python("print('started')", SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO")
    assert bad.returncode != 0 and "SECURE_PROXY_SSL_HEADER must be HEADER,value" in bad.stderr


def test_development_keeps_plain_http_and_the_browsable_api(run_python):
    got = shown(run_python, DEBUG="1", SECRET_KEY=None, PAYMENT_CALLBACK_SECRET=None)
    assert got["SECURE_SSL_REDIRECT"] is False and got["SECURE_HSTS_SECONDS"] == 0
    assert got["SESSION_COOKIE_SECURE"] is False and got["CSRF_COOKIE_SECURE"] is False
    assert got["renderers"] == [*JSON_ONLY, "rest_framework.renderers.BrowsableAPIRenderer"]


def test_secret_key_is_required_without_debug(run_python):
    done = run_python("print('started')", SECRET_KEY=None)
    assert done.returncode != 0 and "SECRET_KEY must be set when DEBUG is off" in done.stderr


def test_check_deploy_is_clean_with_the_required_variables_only(manage):
    done = manage("check", "--deploy")
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout, done.stdout + done.stderr


@pytest.mark.django_db
def test_api_answers_json_to_a_browser(api):
    """The suite runs with DEBUG off: no HTML API, whatever the browser asks for."""
    r = api.get("/api/v1/billing/account", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    assert r.json()["code"] == 0 and b"<html" not in r.content.lower()


@pytest.mark.django_db
def test_healthz_says_ok_per_dependency_and_nothing_more(client):
    """From outside the metrics networks, without the token: flags only."""
    r = client.get("/healthz", REMOTE_ADDR="203.0.113.9")
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


@pytest.mark.django_db
def test_failing_healthz_keeps_the_reason_in_the_log(client, settings, caplog):
    settings.CELERY_BROKER_URL = "redis://health-user:hunter2@127.0.0.1:1/0"  # nothing listens on 1
    settings.HTTP_TIMEOUT_SECONDS = 1.0
    with caplog.at_level(logging.WARNING, logger="tally.health"):
        r = client.get("/healthz", REMOTE_ADDR="203.0.113.9")
    assert r.status_code == 503
    assert r.json() == {
        "code": 3323,
        "msg": "unhealthy",
        "data": {
            "database": {"ok": True},
            "broker": {"ok": False},
            "migrations": {"ok": True},
            "worker": {"ok": False},
        },
    }
    assert b"Error" not in r.content and b"127.0.0.1" not in r.content
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "tally.health"]
    broker = [line for line in logged if line.startswith("health check failed: broker: ")]
    assert len(broker) == 1 and "Error" in broker[0]
