"""JSON parsing that never creates a float and refuses what would hurt later (issue 14).

- Numbers with a fraction become ``Decimal``; ``NaN``/``Infinity`` are refused.
- Nesting deeper than ``MAX_JSON_DEPTH`` is a parse error (3302), and so is a ``RecursionError``
  of the decoder itself (``[`` x 2000).
- The body is one JSON object (``null``, ``12`` or ``[...]`` are invalid input, 3307).
- A key repeated in one object is a parse error (3302): "last one wins" once turned
  ``{"action": "renew", "action": "cancel"}`` into a cancel.
- A lone surrogate (``"\\ud800"``) in any key or string is invalid input (3307) naming the field:
  it cannot be stored in utf8mb4 nor rendered back as UTF-8.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import ParseError, UnsupportedMediaType, ValidationError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32


class JsonNumber(Decimal):
    """A JSON number with a fraction or exponent, as a ``Decimal`` that remembers its text, so a
    money field can refuse ``1.5e0`` although its value is ``1.5``."""

    __slots__ = ("text",)
    text: str


def _parse_number(text: str) -> JsonNumber:
    number = JsonNumber(text)
    number.text = text
    return number


class DecimalJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", "utf-8")
        try:
            raw = stream.read().decode(encoding) if stream is not None else ""
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        return parse_json_text(raw)


def parse_json_text(raw: str) -> Any:
    """The body as Python data, or ``ParseError`` (3302) / ``ValidationError`` (3307)."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(
            raw,
            parse_float=_parse_number,
            parse_constant=reject_json_constant,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError as exc:
        raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from exc
    check_json_value(data)
    if not isinstance(data, dict):
        # Every endpoint takes an object; views that read ``request.data`` as a dict would
        # otherwise treat ``null`` or ``[1, 2]`` as "no body" and go on (a cancel, say).
        kind = "null" if data is None else type(data).__name__
        raise ValidationError({"non_field_errors": [f"the body must be a JSON object, not {kind}"]})
    return data


def check_json_value(data: Any) -> None:
    """Depth limit and lone surrogates, walked iteratively (no recursion on hostile input)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    bad: dict[str, list[str]] = {}
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_JSON_DEPTH:
                raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if _has_surrogate(key):
                    bad.setdefault(_printable(path) or "non_field_errors", []).append(
                        "a key contains a lone surrogate (not valid Unicode)"
                    )
                    continue
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_JSON_DEPTH:
                raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str) and _has_surrogate(value):
            bad.setdefault(path or "non_field_errors", []).append(
                "contains a lone surrogate (not valid Unicode)"
            )
    if bad:
        raise ValidationError(bad)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _printable(path: str) -> str:
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {_printable(key)!r} in one object")
        out[key] = value
    return out


def reject_json_constant(name: str) -> Any:
    """``parse_constant`` for ``json.loads``: refuse NaN and Infinity, which are not numbers."""
    raise ValueError(f"{name} is not a number")


class OriginJSONParser(DecimalJSONParser):
    """``/usageapi/v1`` (issue 23.4): clients of the origin send JSON with ``curl -d`` (so
    ``application/x-www-form-urlencoded``) or with no Content-Type; read the body as JSON whatever
    the type says, except multipart, and only for token-authenticated requests: a session
    (browser) request keeps JSON-only parsing, so a cross-site form post cannot pass for JSON
    (CSRF is checked for sessions anyway)."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        request = (parser_context or {}).get("request")
        authenticator = getattr(request, "successful_authenticator", None)
        if (media_type or "").lower().startswith("multipart/") or not isinstance(
            authenticator, TokenAuthentication
        ):
            raise UnsupportedMediaType(media_type or "")
        return super().parse(stream, media_type, parser_context)


class OriginBodyMixin:
    """Adds ``OriginJSONParser`` after the JSON parser at run time (not in the schema, which keeps
    documenting ``application/json``: ``swagger_fake_view`` is set while it is generated)."""

    def get_parsers(self) -> list[Any]:
        parsers = list(super().get_parsers())  # type: ignore[misc]
        if getattr(self, "swagger_fake_view", False):
            return parsers
        return [*parsers, OriginJSONParser()]
