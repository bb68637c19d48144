"""Sync against a real plan service on 127.0.0.1 (no mocks of the sync code)."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from config.exceptions import DomainError
from plans import demo
from plans.models import Plan, PlanStatus
from plans.sync import sync_plans
from plans.tasks import sync_plans_task
from tests.plans.factories import PlanFactory

pytestmark = pytest.mark.django_db


class PlanService:
    """A tiny plan service: ``mode`` decides the answer of the next GETs."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.hits = 0
        self.document = json.dumps(demo.demo_document(), default=str).encode()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                service.hits += 1
                if service.mode == "slow":
                    time.sleep(1.0)
                if service.mode == "500":
                    self._answer(500, b'{"error": "boom"}')
                elif service.mode == "garbage":
                    self._answer(200, b"<html>maintenance</html>")
                elif service.mode == "invalid":
                    self._answer(200, b'{"plans": [{"plan_id": "x y"}]}')
                else:
                    self._answer(200, service.document)

            def _answer(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/catalog"


@pytest.fixture
def plan_service(settings: Any) -> Iterator[PlanService]:
    settings.HTTP_TIMEOUT_SECONDS = 0.3
    settings.PLAN_SYNC_RETRIES = 3
    settings.PLAN_SYNC_BACKOFF_SECONDS = 0.01
    service = PlanService()
    thread = threading.Thread(target=service.server.serve_forever, daemon=True)
    thread.start()
    yield service
    service.server.shutdown()
    service.server.server_close()


def test_200_imports_the_catalog(plan_service):
    old = PlanFactory(plan_id="old-plan")
    report = sync_plans(url=plan_service.url)
    assert "plan:vol-50g" in report.created and report.retired == ["plan:old-plan"]
    old.refresh_from_db()
    assert old.status == PlanStatus.RETIRED
    assert Plan.objects.filter(status=PlanStatus.ACTIVE).count() == len(demo.demo_document()["plans"])
    assert not sync_plans(url=plan_service.url).changed


@pytest.mark.parametrize(
    ("mode", "reason", "hits"),
    [
        ("500", "HTTP 500", 3),
        ("slow", "timeout", 3),
        ("garbage", "did not answer JSON", 1),
        ("invalid", "invalid", 1),
    ],
)
def test_failures_leave_the_catalog_and_log(plan_service, caplog, settings, mode, reason, hits):
    PlanFactory(plan_id="kept")
    plan_service.mode = mode
    with caplog.at_level(logging.WARNING, logger="plans"), pytest.raises(DomainError) as exc:
        sync_plans(url=plan_service.url)
    assert exc.value.code_for("plans") == 3608 and exc.value.http_status == 503
    assert reason in exc.value.message
    assert plan_service.hits == hits  # 5xx and timeouts are retried, garbage is not
    assert list(Plan.objects.values_list("plan_id", "status")) == [("kept", "active")]
    if hits > 1:
        assert "attempt 1/3 failed" in caplog.text
    # The beat task logs and returns instead of raising.
    caplog.clear()
    settings.PLAN_SERVICE_URL = plan_service.url
    with caplog.at_level(logging.ERROR, logger="plans"):
        assert sync_plans_task.apply().get() is None
    assert "plan sync failed, catalog unchanged" in caplog.text and reason in caplog.text
    assert plan_service.hits == 2 * hits
    assert Plan.objects.get().status == "active"


def test_unreachable_service(settings):
    settings.HTTP_TIMEOUT_SECONDS = 0.3
    settings.PLAN_SYNC_BACKOFF_SECONDS = 0.01
    with pytest.raises(DomainError) as exc:
        sync_plans(url="http://127.0.0.1:9/catalog")
    assert exc.value.code_for("plans") == 3608 and "unreachable" in exc.value.message


def test_task_skips_without_url(settings, caplog):
    settings.PLAN_SERVICE_URL = ""
    with caplog.at_level(logging.INFO, logger="plans"):
        assert sync_plans_task() is None
    assert "skipped" in caplog.text
    assert not Plan.objects.exists()


def test_task_uses_plan_service_url(settings, plan_service):
    settings.PLAN_SERVICE_URL = plan_service.url
    result = sync_plans_task()
    assert result is not None and "plan:car-basic" in result["created"]


def test_command_file_and_dry_run(tmp_path, plan_service):
    path = tmp_path / "catalog.json"
    path.write_text(plan_service.document.decode())
    out = io.StringIO()
    call_command("sync_plans", "--file", str(path), "--dry-run", stdout=out)
    assert "would be created" in out.getvalue() and "plan:vol-50g" in out.getvalue()
    assert not Plan.objects.exists()
    out = io.StringIO()
    call_command("sync_plans", "--url", plan_service.url, stdout=out)
    assert "new price versions (" in out.getvalue()
    assert Plan.objects.filter(plan_id="vol-50g").exists()
    path.write_text("{not json")
    with pytest.raises(CommandError, match="did not answer JSON"):
        call_command("sync_plans", "--file", str(path))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("sync_plans", "--file", str(tmp_path / "missing.json"))


def test_beat_entry(settings):
    from plans.schedule import BEAT_SCHEDULE

    entry = BEAT_SCHEDULE["plans.sync_plans"]
    assert entry["task"] == "plans.sync_plans"
    assert entry["schedule"].total_seconds() == settings.PLAN_SYNC_HOURS * 3600
