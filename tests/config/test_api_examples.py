"""The schema's examples are real: recorded from the demo data by ``manage.py record_api_examples``
(config/api/examples.py), present on every operation that can have one, valid against the
operation's own schema, and of the same shape as what the code answers today."""

from __future__ import annotations

import copy
import io
from typing import Any

import jsonschema
import pytest
from django.core.management import call_command

from config.api.examples import operation_key, recorded_examples

# Operations without a JSON example, and why.
NO_EXAMPLE = {
    "GET /api/v1/billing/statements/{number}.pdf": "a PDF, not JSON",
    "GET /api/v1/billing/credit-notes/{number}.pdf": "a PDF, not JSON",
    "GET /api/v1/billing/statements/{number}": "the demo has no issued statement until a month closes",
    "GET /api/v1/billing/credit-notes/{number}": "the demo has no credit note",
    "POST /api/v1/plans/sync": "calls the external plan service, which the demo does not run",
}


@pytest.fixture(scope="module")
def schema(django_db_setup: Any, django_db_blocker: Any) -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation_key(method, path): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if method in ("get", "post", "put", "patch", "delete")
    }


def resolved(node: Any, components: dict[str, Any]) -> Any:
    """Inline ``$ref``s and turn OpenAPI 3.0's ``nullable`` into JSON Schema's ``null`` type."""
    if isinstance(node, list):
        return [resolved(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return resolved(components[node["$ref"].rsplit("/", 1)[-1]], components)
    out = {key: resolved(value, components) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def test_every_operation_has_its_demo_examples(schema):
    ops = operations(schema)
    missing = []
    for key, operation in ops.items():
        if key in NO_EXAMPLE:
            continue
        responses = operation["responses"]
        answered = [
            status
            for status, response in responses.items()
            if "examples" in response.get("content", {}).get("application/json", {})
        ]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if not answered or (
            body is not None and "examples" not in body and recorded_examples()[key].get("request")
        ):
            missing.append(key)
    assert not missing, missing
    assert set(NO_EXAMPLE) <= set(ops), "an exception names an operation that no longer exists"


def test_examples_validate_against_their_operations_schema(schema):
    components = schema["components"]["schemas"]
    ops = operations(schema)
    problems = []
    for key, recorded in recorded_examples().items():
        operation = ops[key]
        response = operation["responses"][str(recorded["status"])]["content"]["application/json"]
        checks = [("response", response["schema"], recorded["response"])]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None and "request" in recorded:
            checks.append(("request", body["schema"], recorded["request"]))
        for what, raw, value in checks:
            try:
                jsonschema.validate(value, resolved(copy.deepcopy(raw), components))
            except jsonschema.ValidationError as exc:
                problems.append(f"{key} {what}: {exc.message} at {list(exc.absolute_path)}")
    assert not problems, "\n".join(problems)


def shape(value: Any) -> Any:
    """Keys and types, not values (ids, times and balances differ between recordings)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.mark.django_db(transaction=True)
def test_a_fresh_recording_has_the_committed_shape_and_writes_nothing():
    from django.contrib.auth import get_user_model

    from ops.examples_record import record

    fresh, failures = record()
    assert not failures, failures
    committed = recorded_examples()
    assert set(fresh) == set(committed), "re-run manage.py record_api_examples"
    drift = [key for key in fresh if shape(fresh[key]) != shape(committed[key])]
    answers = {key: fresh[key]["response"] for key in drift}
    assert not drift, f"re-run manage.py record_api_examples: {answers}"
    assert not get_user_model().objects.exists(), "the recording is rolled back"
    call_command("record_api_examples", "--check", stdout=io.StringIO())


def test_the_schema_names_the_headers_and_page_parameters_the_server_reads(schema):
    ops = operations(schema)
    components = schema["components"]["schemas"]
    for key, operation in ops.items():
        names = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
        data = (
            resolved(
                operation["responses"]
                .get("200", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {}),
                components,
            )
            .get("properties", {})
            .get("data", {})
        )
        if key.startswith("GET") and {"total", "results"} <= set(data.get("properties", {})):
            assert {("query", "page"), ("query", "size")} <= names, key
    # money-moving POSTs behind billing.idempotency
    for key in ("POST /api/v1/billing/recharge", "POST /usageapi/v1/orders", "POST /api/v1/package-orders"):
        assert ("header", "Idempotency-Key") in {(p["in"], p["name"]) for p in ops[key]["parameters"]}, key
