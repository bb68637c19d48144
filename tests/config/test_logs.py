"""Log lines: ``LOG_FORMAT=json`` gives one JSON object a line with the request id; the request id
of the sending request is put on the task's message and back into the context for its run."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

from config.logs import (
    HEADER,
    ContextLogFilter,
    JsonFormatter,
    add_request_id_header,
    enter_task_context,
    leave_task_context,
    logging_config,
    request_id_var,
)


def _record(message: str = "charged %s", *args: object) -> logging.LogRecord:
    record = logging.LogRecord("tally.billing", logging.INFO, __file__, 1, message, args or ("10.00",), None)
    ContextLogFilter().filter(record)
    return record


def test_a_json_line_carries_the_request_id_and_the_message():
    token = request_id_var.set("req-abc")
    try:
        line = json.loads(JsonFormatter().format(_record()))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "charged 10.00" and line["request_id"] == "req-abc"
    assert line["level"] == "INFO" and line["logger"] == "tally.billing" and line["task"] == "-"
    assert line["time"].endswith("+00:00")


def test_an_exception_is_one_json_field_not_extra_lines():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    ContextLogFilter().filter(record)
    text = JsonFormatter().format(record)
    assert "\n" not in text and "ValueError: boom" in json.loads(text)["exception"]


def test_the_request_id_rides_on_the_task_message_and_comes_back_for_the_run():
    headers: dict[str, object] = {}
    token = request_id_var.set("req-sender")
    try:
        add_request_id_header(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers[HEADER] == "req-sender"
    task = SimpleNamespace(request=SimpleNamespace(**{HEADER: "req-sender"}))
    enter_task_context(task_id="t1", task=task)
    assert request_id_var.get() == "req-sender"
    leave_task_context(task_id="t1")
    assert request_id_var.get() == "-"
    enter_task_context(task_id="t2", task=SimpleNamespace(request=SimpleNamespace()))  # sent by beat
    assert request_id_var.get() == "task-t2"
    leave_task_context(task_id="t2")


def test_json_is_chosen_by_log_format():
    assert logging_config(level="INFO", fmt="json")["formatters"]["line"] == {
        "()": "config.logs.JsonFormatter"
    }
    assert "format" in logging_config(level="INFO", fmt="plain")["formatters"]["line"]
