"""The quota calls' input, checked in one pass (B2 and B2b in docs/benchmarks.md).

``DeductBatchRequestSerializer`` validates 1,000 nested items with a serializer per item and five
validators per field: about a third of the CPU of a batch in the profile. A gateway sends
well-formed items; :func:`well_formed_items` accepts exactly the items the serializer would accept
unchanged (plain strings within their lengths that trimming would not change, with no NUL or
surrogate, and plain integers within the count's bounds) and builds the ``DeductItem`` values the
serializer's data would give. Anything else (a missing key, a number as a string, whitespace, a
wrong type) answers None, and the view runs the serializer, so every error keeps its field path
and message. ``tests/billing/test_batch_input.py`` checks the two agree on generated inputs.
:func:`well_formed_request` does the same for the single check and deduct bodies, where the
serializer was a tenth of a cached check's CPU.
"""

from __future__ import annotations

import re
from typing import Any, cast

from rest_framework import serializers

from billing.api.serializers import DeductRequestSerializer
from billing.quota_batch import MAX_ITEMS, DeductItem

# what DRF's CharField refuses or changes: NUL (ProhibitNullCharactersValidator), surrogates
# (ProhibitSurrogateCharactersValidator)
_REFUSED_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_FIELDS = DeductRequestSerializer().fields  # the bounds are the serializer's own
_LENGTHS = tuple(
    (name, int(cast(serializers.CharField, _FIELDS[name]).max_length or 0))
    for name in ("namespace", "service", "request_id")
)
_COUNT = cast(serializers.IntegerField, _FIELDS["count"])
COUNT_MIN, COUNT_MAX = int(_COUNT.min_value or 0), int(_COUNT.max_value or 0)


def _plain_text(value: Any, max_length: int) -> bool:
    return (
        type(value) is str
        and 0 < len(value) <= max_length
        and value == value.strip()
        and _REFUSED_CHARACTERS.search(value) is None
    )


def well_formed_request(data: Any, *, with_request_id: bool) -> dict[str, Any] | None:
    """The validated values of a well-formed check (``with_request_id`` False) or deduct body, as
    the serializer's ``validated_data`` would hold them (extra keys ignored), or None when the
    serializer must judge it."""
    if type(data) is not dict:
        return None
    count = data.get("count")
    if type(count) is not int or not COUNT_MIN <= count <= COUNT_MAX:
        return None
    for name, max_length in _LENGTHS if with_request_id else _LENGTHS[:2]:
        if not _plain_text(data.get(name), max_length):
            return None
    out = {"namespace": data["namespace"], "service": data["service"], "count": count}
    if with_request_id:
        out["request_id"] = data["request_id"]
    return out


def well_formed_items(data: Any) -> list[DeductItem] | None:
    """The items of a well-formed batch body, or None when the serializer must judge it."""
    if type(data) is not dict:
        return None
    items = data.get("items")
    if type(items) is not list or not 1 <= len(items) <= MAX_ITEMS:
        return None
    out: list[DeductItem] = []
    for item in items:
        if type(item) is not dict:
            return None
        count = item.get("count")
        if type(count) is not int or not COUNT_MIN <= count <= COUNT_MAX:
            return None
        for name, max_length in _LENGTHS:
            if not _plain_text(item.get(name), max_length):
                return None
        out.append(DeductItem(item["namespace"], item["service"], count, item["request_id"]))
    return out
