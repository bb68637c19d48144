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
import re
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
    check_json_value(data, text=raw)
    if not isinstance(data, dict):
        # Every endpoint takes an object; views that read ``request.data`` as a dict would
        # otherwise treat ``null`` or ``[1, 2]`` as "no body" and go on (a cancel, say).
        kind = "null" if data is None else type(data).__name__
        raise ValidationError({"non_field_errors": [f"the body must be a JSON object, not {kind}"]})
    return data


def check_json_value(data: Any, *, text: str | None = None) -> None:
    """Depth limit and lone surrogates, walked iteratively (no recursion on hostile input).

    A first walk only looks (no path text per value: a 1,000-item batch body has 5,000 values and
    the paths were half of this check's CPU); only a body it refuses is walked again for the
    paths of its errors. Given the ``text`` ``data`` was parsed from, strings are looked at only
    when the text could have produced a lone surrogate."""
    if _within_limits(data, strings=text is None or _may_hold_surrogates(text)):
        return
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


# A JSON text makes a lone surrogate only from an escape of one (a pair's two escapes make one
# valid character, and are looked at too), or when the text itself holds one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _may_hold_surrogates(text: str) -> bool:
    return _SURROGATE_ESCAPE.search(text) is not None or _has_surrogate(text)


def _within_limits(data: Any, *, strings: bool) -> bool:
    """True when no container is nested deeper than ``MAX_JSON_DEPTH`` and (``strings``) no key
    or string holds a lone surrogate: what ``check_json_value`` refuses."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        kind = type(value)
        if kind is dict:
            if depth > MAX_JSON_DEPTH:
                return False
            for key, item in value.items():
                if strings and _has_surrogate(key):
                    return False
                stack.append((item, depth + 1))
        elif kind is list:
            if depth > MAX_JSON_DEPTH:
                return False
            stack.extend([(item, depth + 1) for item in value])
        elif kind is str:
            if strings and _has_surrogate(value):
                return False
        elif isinstance(value, dict | list | str):  # a subclass: let the full walk judge it
            return False
    return True


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
