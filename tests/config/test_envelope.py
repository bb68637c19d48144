from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import Account, LedgerEntry
from billing.tenancy import personal_account

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.config.urls_for_tests")]


def test_success_is_wrapped_in_the_envelope(api, user):
    body = api.get("/api/v1/me").json()
    assert body["code"] == 0 and body["msg"] == "OK"
    assert body["data"] == {"username": "alice", "is_staff": False, "namespaces": ["alice"]}
    # A GET writes nothing (issue 13): the personal wallet is created by the first write, in the
    # deployment currency.
    assert not Account.objects.filter(namespace="alice").exists()
    assert personal_account(user).currency == "CNY"


def test_unparsable_json_is_3302(api):
    r = api.post("/api/test/topup", data="{not json", content_type="application/json")
    assert r.status_code == 400
    assert r.json()["code"] == 3302
    assert LedgerEntry.objects.count() == 0


def test_unknown_url_is_an_envelope_404(api):
    r = api.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r["Content-Type"].startswith("application/json")
    assert r.json()["code"] == 3303


def test_wrong_method_is_405_envelope(api):
    r = api.delete("/api/v1/me")
    assert r.status_code == 405
    assert r.json()["code"] == 3303


def test_validation_errors_name_every_bad_field(api):
    r = api.post("/api/test/topup", {"amount": "1.23456", "reference": "BAD1", "count": 0}, format="json")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 3307
    assert set(body["data"]["errors"]) == {"amount", "reference", "count"}
    assert body["msg"].startswith("invalid parameters: ")
    for field in ("amount", "reference", "count"):
        assert f"{field}: " in body["msg"]
    assert LedgerEntry.objects.count() == 0


def test_json_floats_are_parsed_as_decimals(api):
    r = api.post(
        "/api/test/topup",
        data='{"amount": 0.1, "reference": "abc", "count": 1}',
        content_type="application/json",
    )
    assert r.status_code == 201, r.json()
    assert LedgerEntry.objects.get().amount == Decimal("0.1000")


def test_unauthenticated_is_401_3305(client):
    r = client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.json()["code"] == 3305


def test_bad_token_is_401_3305(client):
    r = client.get("/api/v1/me", HTTP_AUTHORIZATION="Token nope")
    assert r.status_code == 401 and r.json()["code"] == 3305


def test_foreign_namespace_is_403_3306(api, make_user):
    make_user("bob")
    Account.objects.create(namespace="bob", currency="CNY")
    r = api.post(
        "/api/test/topup", {"amount": "5", "reference": "abc", "count": 1, "namespace": "bob"}, format="json"
    )
    assert r.status_code == 403
    assert r.json()["code"] == 3306
    assert LedgerEntry.objects.count() == 0


def test_staff_may_name_any_namespace(staff_api):
    Account.objects.create(namespace="bob", currency="CNY")
    r = staff_api.post(
        "/api/test/topup", {"amount": "5", "reference": "abc", "count": 1, "namespace": "bob"}, format="json"
    )
    assert r.status_code == 201
    assert Account.objects.get(namespace="bob").balance == Decimal("5")


def test_member_may_name_shared_namespace(api, user):
    team = Account.objects.create(namespace="team-a", currency="CNY")
    team.members.add(user)
    r = api.post(
        "/api/test/topup",
        {"amount": "2", "reference": "abc", "count": 1, "namespace": "team-a"},
        format="json",
    )
    assert r.status_code == 201
    team.refresh_from_db()
    assert team.balance == Decimal("2")


def test_unhandled_error_is_a_clean_500_without_traceback(client):
    client.raise_request_exception = False
    r = client.get("/api/test/boom")
    assert r.status_code == 500
    body = r.json()
    assert body == {"code": 3300, "msg": "internal error"}
    assert "secret internals" not in r.content.decode()
    assert "Traceback" not in r.content.decode()


def test_every_response_carries_a_request_id(api):
    r = api.get("/api/v1/me", HTTP_X_REQUEST_ID="abc-123")
    assert r["X-Request-ID"] == "abc-123"
    assert len(api.get("/api/v1/me")["X-Request-ID"]) == 32


def test_schema_and_docs_are_served(client):
    r = client.get("/api/schema/")
    assert r.status_code == 200
    assert b"x-error-codes" in r.content
    assert client.get("/api/docs/").status_code == 200


def test_every_operation_is_tagged_by_its_area():
    """Swagger UI's sections: one tag per area of the API, none a catch-all (config/api/schema_tags.py)."""
    from collections import Counter

    from drf_spectacular.generators import SchemaGenerator

    from config.api.schema_tags import AREAS

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = {
        p: ops for p, ops in schema["paths"].items() if not p.startswith("/api/test/")
    }  # test-only views
    tags = Counter(tag for ops in paths.values() for op in ops.values() for tag in op["tags"])
    untagged = [p for p, ops in schema["paths"].items() for op in ops.values() if op["tags"] == ["api"]]
    assert set(tags) <= {area for _, area in AREAS}, untagged
    assert max(tags.values()) <= 15, tags
