"""Log lines an operator can use: the request id of the HTTP request that caused them, in the web
process and in every Celery task the request sent, and one JSON object a line with
``LOG_FORMAT=json`` (plain text stays the default for ``make run``).

The request id travels as the task message header ``tally_request_id`` (``before_task_publish``,
connected in config/celery.py); the worker puts it back into ``request_id_var`` for the task's
run (``task_prerun``/``task_postrun``). A task nobody's request sent (beat) logs ``task-<id>``.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime
from typing import Any

from celery import current_task

# Set by config.api.middleware.RequestIdMiddleware per request, and per task by the hooks below.
# Here, not in the middleware module, because settings import this module (no Django imports).
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

HEADER = "tally_request_id"
_tokens: dict[str, Any] = {}  # task id -> the contextvar token to reset after the run


class ContextLogFilter(logging.Filter):
    """Adds ``request_id`` and ``task`` (``name[id]`` inside a Celery task, else ``-``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        task = current_task
        record.task = f"{task.name}[{task.request.id}]" if task and task.request.id else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, task,
    and the formatted exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "task": getattr(record, "task", "-"),
            "process": record.process,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def add_request_id_header(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """``before_task_publish``: the sending request's id rides along with the message."""
    request_id = request_id_var.get()
    if headers is not None and request_id != "-":
        headers.setdefault(HEADER, request_id)


def enter_task_context(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """``task_prerun``: the task's log lines carry the id of the request that sent it."""
    sent_by = getattr(getattr(task, "request", None), HEADER, None) if task is not None else None
    if task_id:
        _tokens[task_id] = request_id_var.set(str(sent_by or f"task-{task_id}"))


def leave_task_context(task_id: str | None = None, **_: Any) -> None:
    token = _tokens.pop(task_id or "", None)
    if token is not None:
        request_id_var.reset(token)


def logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    formatter = (
        {"()": "config.logs.JsonFormatter"}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "config.logs.ContextLogFilter"}},
        "formatters": {"line": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["context"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "django.request": {"level": "ERROR"},
            "weasyprint": {"level": "WARNING"},  # its INFO lines narrate every rendering step
            "fontTools": {"level": "WARNING"},
        },
    }
