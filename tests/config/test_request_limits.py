"""Issue 14.1: hostile JSON and oversized bodies are clean 4xx envelopes that change nothing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError, ValidationError

from billing.models import LedgerEntry, RechargeOrder
from billing.signature import sign
from config.api.parsers import MAX_JSON_DEPTH

pytestmark = pytest.mark.django_db
RECHARGE = "/api/v1/billing/recharge"
CALLBACK = "/internal/v1/billing/callback"


def _post(client, url, raw: str | bytes, **extra):
    return client.post(url, data=raw, content_type="application/json", **extra)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 2000, 40_000])
def test_deep_nesting_is_3302(api, depth):
    r = _post(api, RECHARGE, "[" * depth + "]" * depth)
    assert r.status_code == 400 and r.json()["code"] == 3302, r.content[:300]
    assert "nested deeper" in r.json()["msg"]
    r = _post(api, RECHARGE, '{"a":' * depth + "1" + "}" * depth)
    assert r.status_code == 400 and r.json()["code"] == 3302
    assert RechargeOrder.objects.count() == 0


def test_nesting_at_the_limit_is_parsed(api):
    # 31 lists inside the object: depth 32 is still JSON we read (and then refuse as a bad amount).
    inner = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    r = _post(api, RECHARGE, f'{{"amount": {inner}, "currency": "CNY", "payment_method": "sandbox"}}')
    assert r.status_code == 400 and r.json()["code"] != 3302


@pytest.mark.parametrize(
    "raw, field",
    [
        ('{"amount": "10", "currency": "CNY", "payment_method": "\\ud800"}', "payment_method"),
        ('{"amount": "10", "currency": "\\udfff", "payment_method": "sandbox"}', "currency"),
        ('{"amount": "10", "currency": "CNY", "payment_method": "sandbox", "x": ["ok", "\\ud83d"]}', "x[1]"),
        ('{"amount": "10", "currency": "CNY", "payment_method": "sandbox", "n": {"\\ud800": 1}}', "n"),
    ],
)
def test_lone_surrogate_is_3307_naming_the_field(api, raw, field):
    r = _post(api, RECHARGE, raw)
    assert r.status_code == 400, r.content[:300]
    body = r.json()
    assert body["code"] in (3307, 190101) and field in body["data"]["errors"], body
    assert RechargeOrder.objects.count() == 0


def test_a_proper_surrogate_pair_is_fine(api):
    # An emoji written as an escaped pair is valid Unicode: not refused as a lone surrogate.
    raw = '{"amount": "10", "currency": "CNY", "payment_method": "\\ud83d\\ude00"}'
    r = _post(api, RECHARGE, raw)
    assert r.status_code == 400 and "payment_method" in r.json()["data"]["errors"]
    assert "surrogate" not in r.json()["msg"]


def test_duplicate_keys_are_3302(api):
    r = _post(
        api, RECHARGE, '{"amount": "10", "amount": "20", "currency": "CNY", "payment_method": "sandbox"}'
    )
    assert r.status_code == 400 and r.json()["code"] == 3302
    assert "duplicate key 'amount'" in r.json()["msg"]
    r = _post(api, RECHARGE, '{"a": {"b": 1, "b": 2}}')
    assert r.json()["code"] == 3302
    assert RechargeOrder.objects.count() == 0


def test_large_body_on_recharge_is_413(api, settings):
    big = json.dumps({"amount": "10", "currency": "CNY", "payment_method": "sandbox", "pad": "x" * 300_000})
    r = _post(api, RECHARGE, big)
    assert r.status_code == 413, r.content[:200]
    assert r.json()["code"] == 3325 and "at most 262144 bytes" in r.json()["msg"]
    assert RechargeOrder.objects.count() == 0


def test_limit_comes_from_settings(api, settings):
    settings.API_MAX_BODY_BYTES = 100
    r = _post(api, RECHARGE, json.dumps({"amount": "10", "pad": "x" * 200}))
    assert r.status_code == 413 and r.json()["code"] == 3325


def test_ten_megabytes_to_the_callback_is_413_before_the_signature(client):
    body = b'{"recharge_order_id": "R1", "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    # No signature at all: the size is judged first (a 401 would mean the body was read).
    r = _post(client, CALLBACK, body)
    assert r.status_code == 413 and r.json()["code"] == 3325
    r = _post(client, CALLBACK, body, HTTP_X_TALLY_SIGNATURE=sign(body))
    assert r.status_code == 413
    assert LedgerEntry.objects.count() == 0


def test_django_backstop_is_413_too(client, settings):
    # Without a Content-Length the middleware cannot judge; Django's own limit answers 413 envelope.
    settings.API_MAX_BODY_BYTES = 10**9
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = b'{"pad": "' + b"x" * 5000 + b'"}'
    r = _post(client, CALLBACK, body, HTTP_X_TALLY_SIGNATURE=sign(body))
    assert r.status_code == 413 and r.json()["code"] == 3325


def test_meter_event_batches_have_a_larger_limit(api):
    events = [
        {
            "event_id": f"e-{i:05d}-" + "x" * 80,
            "instance": "i" * 100,
            "component_id": "c" * 50,
            "quantity": "1.0000",
            "timestamp": "2026-01-01T00:00:00+00:00",
        }
        for i in range(1000)
    ]
    raw = json.dumps({"events": events})
    assert len(raw) > 256 * 1024
    r = _post(api, "/api/v1/meter-events", raw)
    assert r.status_code != 413, r.content[:200]


_JSON_LEAVES = st.one_of(
    st.none(),
    st.integers(),
    st.text(alphabet=st.characters(codec=None), max_size=6),  # lone surrogates included
    st.sampled_from(["\ud800", "\udfff", "\U0001f600", "a\\ud800", "\\u00e9"]),
)
_JSON_VALUES = st.recursive(
    _JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES)
def test_the_quick_look_refuses_exactly_what_the_full_walk_refuses(value):
    """``check_json_value`` first walks without paths (and skips strings when the text has no
    escape that can make a surrogate); it must refuse exactly the bodies the path-building walk
    refuses, with the same errors."""
    from config.api import parsers

    text = json.dumps({"v": value})  # lone surrogates become \\udXXX escapes, as a client sends them
    data = json.loads(text)
    outcomes = []
    for quick in (True, False):
        original = parsers._within_limits
        if not quick:
            parsers._within_limits = lambda *_args, **_kwargs: False
        try:
            parsers.check_json_value(data, text=text)
            outcomes.append(None)
        except (ParseError, ValidationError) as exc:
            outcomes.append((type(exc).__name__, str(exc.detail)))
        finally:
            parsers._within_limits = original
    assert outcomes[0] == outcomes[1]
