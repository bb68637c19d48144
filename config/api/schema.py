"""drf-spectacular hook: publish the error-code catalogue in the schema."""

from __future__ import annotations

from typing import Any

from config.api.errors import ERROR_DESCRIPTIONS


def add_error_catalogue(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("info", {})["x-error-codes"] = {
        str(int(code)): description for code, description in ERROR_DESCRIPTIONS.items()
    }
    table = "\n".join(f"| {int(c)} | {c.name} | {d} |" for c, d in ERROR_DESCRIPTIONS.items())
    result["info"]["description"] = (
        result["info"].get("description", "") + "\n\n| code | name | meaning |\n|---|---|---|\n" + table
    )
    return result
