"""drf-spectacular hook: publish the error-code catalogue in the schema."""

from __future__ import annotations

import copy
from typing import Any

from config.api.errors import ERROR_DESCRIPTIONS, ORIGIN_MEANINGS


def add_error_catalogue(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("info", {})["x-error-codes"] = {
        str(int(code)): description for code, description in ERROR_DESCRIPTIONS.items()
    }
    result["info"]["x-origin-error-codes"] = {str(code): m for code, m in ORIGIN_MEANINGS.items()}
    table = "\n".join(
        f"| {int(c)} | {c.name} | {d} | {ORIGIN_MEANINGS.get(int(c), '')} |"
        for c, d in ERROR_DESCRIPTIONS.items()
    )
    result["info"]["description"] = (
        result["info"].get("description", "")
        + "\n\n| code | name | meaning in Tally | the origin's meaning (same code) |\n|---|---|---|---|\n"
        + table
    )
    return result


# Every API operation can answer these (the envelope middleware and handler make them): documented
# on each so that clients and schemathesis (``--checks all``) know them.
STANDARD_ERRORS = {
    "400": "invalid parameters (3307 or the family's code) or unparsable JSON (3302)",
    "401": "no or bad credentials (3305)",
    "403": "permission denied (3306)",
    "404": "not found (3318 or the family's code)",
    "405": "method not allowed (3303)",
    "406": "not acceptable (3324)",
    "409": "conflict: state, Idempotency-Key (3320/3321) or the family's code",
    "413": "request body too large (3325)",
    "415": "unsupported media type (3326)",
    "429": "too many requests (3322), see Retry-After",
}


PAGE_PARAMETERS = (
    {
        "name": "page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1},
        "description": "1-based page number (default 1; a page past the end is refused)",
    },
    {
        "name": "size",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
        "description": "page size (default 30)",
    },
)


def _pages_take_page_and_size(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """A hand-paginated list (``parse_page_params``) reads ``page`` and ``size`` like the
    paginator's lists; its schema says so too."""
    media = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
    if not media or not _is_page(media.get("schema", {}), components):
        return
    parameters = operation.setdefault("parameters", [])
    declared = {(parameter.get("in"), parameter.get("name")) for parameter in parameters}
    for parameter in PAGE_PARAMETERS:
        if ("query", parameter["name"]) not in declared:
            parameters.append(dict(parameter))


def _lists_are_pages(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """A list answers ``{total, results}`` (docs/api.md), not a bare array: say so."""
    for status, response in operation["responses"].items():
        if not str(status).startswith("2"):
            continue
        media = response.get("content", {}).get("application/json")
        if not media:
            continue
        schema = media.get("schema", {})
        if schema.get("type") == "array" and _is_page(schema.get("items", {}), components):
            # a ``list`` action whose serializer already is the page: drf-spectacular made it an
            # array of pages
            media["schema"] = schema["items"]
        elif schema.get("type") == "array":
            media["schema"] = {
                "type": "object",
                "required": ["total", "results"],
                "properties": {"total": {"type": "integer"}, "results": schema},
            }


def _is_page(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    ref = schema.get("$ref", "")
    target = components.get(ref.rsplit("/", 1)[-1], {}) if ref else schema
    return {"total", "results"} <= set(target.get("properties", {}))


ENVELOPE_NAME = "Envelope"
ERROR_ENVELOPE_NAME = "ErrorEnvelope"


def _is_envelope(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = components.get(name, {})
    props = schema.get("properties", {})
    return "code" in props and "msg" in props


ERROR_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "msg"],
    "properties": {
        "code": {"type": "integer", "description": "non-zero error code (see x-error-codes)"},
        "msg": {"type": "string"},
        "data": {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                }
            },
            "additionalProperties": True,
        },
    },
}


def wrap_responses_in_envelope(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Describe responses as clients receive them: ``{code, msg, data}`` (the renderer wraps them).

    Success schemas become ``{code: 0, msg, data: <schema>}``; error responses that do not declare
    their own envelope get ``ErrorEnvelope``. Schemathesis validates responses against this.
    """
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        ERROR_ENVELOPE_NAME, copy.deepcopy(ERROR_ENVELOPE_SCHEMA)
    )  # a fresh copy per schema
    for path, operations in result.get("paths", {}).items():
        if not path.startswith(("/usageapi/", "/api/v1", "/internal/")):
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if method == "get":
                _lists_are_pages(operation, components)
                _pages_take_page_and_size(operation, components)
            for status, description in STANDARD_ERRORS.items():
                operation["responses"].setdefault(status, {"description": description})
            for status, response in operation["responses"].items():
                _wrap_response(str(status), response, components)
    return result


def _wrap_response(status: str, response: dict[str, Any], components: dict[str, Any]) -> None:
    """One response: a 2xx schema inside ``{code: 0, msg, data}``, an error one as ``ErrorEnvelope``
    (also an error without content); schemas that are envelopes already are left alone."""
    content = response.get("content", {})
    media = content.get("application/json")
    if media is None:
        if status.startswith(("4", "5")) and not content:
            response["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_ENVELOPE_NAME}"}}
            }
        return
    schema = media.get("schema", {})
    if _is_envelope(schema, components):
        return
    if status.startswith("2"):
        media["schema"] = {
            "type": "object",
            "required": ["code", "msg"],
            "properties": {
                "code": {"type": "integer", "enum": [0]},
                "msg": {"type": "string"},
                "data": schema,
            },
        }
    else:
        media["schema"] = {"$ref": f"#/components/schemas/{ERROR_ENVELOPE_NAME}"}


def one_of_without_discriminator_is_any_of(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """A response that is "the detail or, with ``drytry``, the preview" has no discriminator, and a
    preview object also matches the detail's open object: under ``oneOf`` a validating client
    rejects it for matching both. ``anyOf`` says what the server does."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "oneOf" in node and "discriminator" not in node:
                node["anyOf"] = node.pop("oneOf")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
