"""drf-spectacular hook: publish the error-code catalogue in the schema."""

from __future__ import annotations

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


ENVELOPE_NAME = "Envelope"
ERROR_ENVELOPE_NAME = "ErrorEnvelope"


def _is_envelope(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = components.get(name, {})
    props = schema.get("properties", {})
    return "code" in props and "msg" in props


def wrap_responses_in_envelope(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Describe responses as clients receive them: ``{code, msg, data}`` (the renderer wraps them).

    Success schemas become ``{code: 0, msg, data: <schema>}``; error responses that do not declare
    their own envelope get ``ErrorEnvelope``. Schemathesis validates responses against this.
    """
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        ERROR_ENVELOPE_NAME,
        {
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
        },
    )
    for path, operations in result.get("paths", {}).items():
        if not path.startswith(("/usageapi/", "/api/v1", "/internal/")):
            continue
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                media = content.get("application/json")
                if media is None:
                    if str(status).startswith(("4", "5")) and not content:
                        response["content"] = {
                            "application/json": {
                                "schema": {"$ref": f"#/components/schemas/{ERROR_ENVELOPE_NAME}"}
                            }
                        }
                    continue
                schema = media.get("schema", {})
                if _is_envelope(schema, components):
                    continue
                if str(status).startswith("2"):
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
    return result
