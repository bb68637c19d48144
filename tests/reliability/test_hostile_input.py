"""Issue 14.6: garbage sent to every write endpoint of the schema is a clean 4xx that changes nothing.

Each write operation of ``/api/schema/`` (path ids filled with real objects of the caller, so the
body is read, not refused at the lookup) gets the payloads of issue 14 and more: deep nesting,
duplicate keys, lone surrogates, NaN/Infinity, huge numbers, invalid UTF-8, scalars and arrays in
place of objects, money and counts in every wrong form, bodies over the size limit. Each answer
must be 4xx, the JSON envelope with a non-zero code, no traceback; balances, the ledger and the row
counts of every table that matters stay as they were. The caller is staff with the internal-API
permission so that requests reach the deepest code.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission

from billing.models import Account
from billing.services import account_credit, account_get_or_create
from tests.orders.package.factories import create_order, make_catalog
from tests.orders.purchase.helpers import make_plan
from tests.orders.vehicle.factories import make_plan_order

pytestmark = pytest.mark.django_db

# Calls an external service that is absent here (PLAN_SERVICE_URL unset): 503 is its contract.
SKIP = {("POST", "/api/v1/plans/sync")}
MONEY_FIELDS = (
    "amount",
    "summary",
    "payment",
    "price",
    "service_ratio",
    "count",
    "quantities",
    "quantity",
    "cycles",
)
BAD_VALUES: list[Any] = [True, "NaN", "Infinity", "1e1", "\uff11\uff10", "1_0", " 10 ", [], {}, "-5"]


def _payloads() -> list[tuple[str, bytes, str]]:
    """(label, body, content type)."""
    out: list[tuple[str, bytes, str]] = [
        ("deep-array", b"[" * 3000 + b"]" * 3000, "application/json"),
        ("deep-object", b'{"a":' * 3000 + b"1" + b"}" * 3000, "application/json"),
        ("nested-33", (b"[" * 33 + b"]" * 33), "application/json"),
        (
            "duplicate-key",
            b'{"action": "renew", "action": "cancel", "amount": "1", "amount": "2"}',
            "application/json",
        ),
        (
            "surrogate",
            b'{"namespace": "\\ud800", "plan_id": "\\udfff", "action": "\\ud83d"}',
            "application/json",
        ),
        ("nan", b'{"amount": NaN, "count": Infinity, "summary": -Infinity}', "application/json"),
        (
            "huge-int",
            b'{"amount": 1' + b"0" * 5000 + b', "count": 1' + b"0" * 5000 + b"}",
            "application/json",
        ),
        ("huge-exp", b'{"amount": 1e999999, "summary": 1e-999999}', "application/json"),
        ("bad-utf8", b'{"namespace": "\xff\xfe\xfd"}', "application/json"),
        ("not-json", b"{not json", "application/json"),
        ("null", b"null", "application/json"),
        ("scalar", b"12", "application/json"),
        ("string", b'"hello"', "application/json"),
        ("list", b"[1, 2, 3]", "application/json"),
        ("list-of-objects", b'[{"amount": "1"}]', "application/json"),
        ("true", b"true", "application/json"),
        ("too-large", b'{"pad": "' + b"x" * (300 * 1024) + b'"}', "application/json"),
        ("xml", b"<a>1</a>", "application/xml"),
        ("multipart-ish", b"--x\r\n\r\n", "multipart/form-data; boundary=x"),
    ]
    for value in BAD_VALUES:
        body = {field: value for field in MONEY_FIELDS}
        body["events"] = [{"event_id": "e1", "instance": "i-1", "quantity": value, "timestamp": value}]
        body["items"] = {"x": value}
        out.append((f"fields={value!r}", json.dumps(body).encode(), "application/json"))
    return out


PAYLOADS = _payloads()


@pytest.fixture
def world(make_user, client_for):
    caller = make_user("fuzzer", staff=True)
    caller.user_permissions.add(Permission.objects.get(codename="use_internal_api"))
    caller = type(caller).objects.get(pk=caller.pk)
    account = account_get_or_create(namespace="fuzzer", member=caller)
    account_credit(account_id=account.pk, amount=Decimal("100000"), idempotency_key="seed-fuzzer")
    make_plan("vol-50g", "30")
    api = client_for(caller)
    r = api.post(
        "/usageapi/v1/orders", {"region": "cn-north-1", "plan_id": "vol-50g", "quantities": 1}, format="json"
    )
    assert r.status_code == 201, r.content[:300]
    data = r.json()["data"]
    purchase_id = (data.get("order") or data)["id"]
    make_catalog()
    package = create_order(account, ext="i-1")
    vehicle = make_plan_order(caller)
    ids = {
        "/usageapi/v1/orders/{order_id}": {"order_id": str(purchase_id)},
        "/api/v1/orders/{order_id}": {"order_id": str(vehicle.order_id)},
        "/api/v1/package-orders/{order_id}": {"order_id": str(package.order.order_id)},
        "{prod_inst_id_ext}": {"prod_inst_id_ext": "i-1"},
        "{plan_id}": {"plan_id": "vol-50g"},
    }
    schema = api.get("/api/schema/?format=json").json()
    return api, ids, schema


def _fill(path: str, ids: dict[str, dict[str, str]]) -> str:
    for prefix, values in ids.items():
        if path.startswith(prefix.split("{")[0]) or prefix in path:
            for name, value in values.items():
                path = path.replace("{" + name + "}", value)
    assert "{" not in path, path
    return path


def _snapshot() -> dict[str, Any]:
    counts = {}
    for label in ("billing", "orders", "usage", "plans"):
        for model in apps.get_app_config(label).get_models():
            counts[model._meta.label] = model.objects.count()
    balances = dict(Account.objects.values_list("namespace", "balance"))
    return {"counts": counts, "balances": balances}


def _write_operations(schema: dict[str, Any]) -> list[tuple[str, str]]:
    ops = []
    for path, operations in schema["paths"].items():
        for method in operations:
            if method in ("post", "put", "patch", "delete") and (method.upper(), path) not in SKIP:
                ops.append((method.upper(), path))
    return ops


def _takes_no_required_body(schema: dict[str, Any], method: str, path: str) -> bool:
    """Actions whose body is optional (cancel, stop, ...): a well-formed object of unknown or
    ignored fields is a valid call there, not garbage."""
    op = schema["paths"][path][method.lower()]
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = content.get("schema", {}).get("$ref")
    body = (
        schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else content.get("schema", {})
    )
    return not op.get("requestBody", {}).get("required") or not body.get("required")


WELL_FORMED = {"huge-exp"} | {label for label, _, _ in PAYLOADS if label.startswith("fields=")}


def _meter_batch_all_rejected(path: str, r: Any) -> bool:
    """Meter events are judged one by one (a batch reports its rejects by index): 200 with nothing
    accepted and every event rejected is that endpoint's clean refusal."""
    if path != "/api/v1/meter-events" or r.status_code != 200:
        return False
    data = r.json()["data"]
    return data["accepted"] == 0 and data["duplicates"] == 0 and len(data["rejected"]) >= 1


def test_every_write_endpoint_refuses_garbage_cleanly(world):
    api, ids, schema = world
    operations = _write_operations(schema)
    assert len(operations) >= 20
    before = _snapshot()
    problems: list[str] = []
    for method, path in operations:
        url = _fill(path, ids)
        for label, body, content_type in PAYLOADS:
            if label in WELL_FORMED and _takes_no_required_body(schema, method, path):
                continue
            r = api.generic(method, url, body, content_type=content_type)
            if _meter_batch_all_rejected(path, r):
                continue
            where = f"{method} {path} [{label}]"
            text = r.content.decode("utf-8", "replace")
            if not 400 <= r.status_code < 500:
                problems.append(f"{where}: HTTP {r.status_code} {text[:200]}")
                continue
            if "Traceback" in text or "<html" in text[:200].lower():
                problems.append(f"{where}: traceback or HTML")
                continue
            try:
                envelope = r.json()
            except ValueError:
                problems.append(f"{where}: not JSON: {text[:200]}")
                continue
            if not (
                isinstance(envelope.get("code"), int)
                and envelope["code"] != 0
                and isinstance(envelope.get("msg"), str)
            ):
                problems.append(f"{where}: not an error envelope: {text[:200]}")
    after = _snapshot()
    changed = {k: (before["counts"][k], v) for k, v in after["counts"].items() if before["counts"][k] != v}
    assert not problems, "\n".join(problems[:80])
    assert not changed, f"rows changed: {changed}"
    assert after["balances"] == before["balances"]


@pytest.mark.parametrize("label", ["deep-array", "duplicate-key", "surrogate", "too-large", "nan"])
def test_the_headline_garbage_has_the_documented_codes(world, label):
    api, _, _ = world
    body, content_type = next((b, c) for lab, b, c in PAYLOADS if lab == label)
    r = api.generic("POST", "/api/v1/billing/recharge", body, content_type=content_type)
    expected = {
        "deep-array": (400, 3302),
        "duplicate-key": (400, 3302),
        "surrogate": (400, 190101),
        "too-large": (413, 3325),
        "nan": (400, 3302),
    }[label]
    assert (r.status_code, r.json()["code"]) == expected, r.content[:300]
