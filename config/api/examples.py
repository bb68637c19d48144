"""Request and response examples of the OpenAPI schema, recorded from the demo data.

``manage.py record_api_examples`` (ops/management/commands) loads the demo inside a transaction,
calls every operation through the API as a client would (``DEMO_SCENARIO`` below: the demo
user's token, the superuser's for staff and internal calls), keeps the first answer of each, and
rolls everything back. The result is ``config/api/examples.json``; the schema hook
``add_examples`` attaches it to each operation, so Swagger UI's "Try it out" starts from a body
that works against ``make run``'s data. ``tests/config/test_api_examples.py`` checks that every
operation has its examples, that they validate against the operation's own schema, and that a
fresh recording has the same shape as the committed file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

EXAMPLES_FILE = Path(__file__).with_name("examples.json")


@cache
def recorded_examples() -> dict[str, dict[str, Any]]:
    if not EXAMPLES_FILE.exists():
        return {}
    data: dict[str, dict[str, Any]] = json.loads(EXAMPLES_FILE.read_text())
    return data


def operation_key(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def add_examples(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the recorded request body and response of each
    operation as its ``demo`` example (after the envelope hook, so the response example is the
    whole envelope the server sends)."""
    examples = recorded_examples()
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            recorded = examples.get(operation_key(method, path))
            if not recorded:
                continue
            summary = recorded.get("summary", "from the demo data (make run)")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and "request" in recorded:
                body["examples"] = {"demo": {"summary": summary, "value": recorded["request"]}}
            status = str(recorded["status"])
            response = operation.get("responses", {}).get(status, {}).get("content", {})
            for content in response.values():
                content["examples"] = {"demo": {"summary": summary, "value": recorded["response"]}}
    return result
