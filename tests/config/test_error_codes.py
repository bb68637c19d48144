"""Issues 14.4 and 23.2: every client gets the right code; the origin's codes keep its meanings."""

from __future__ import annotations

import pytest

from config.api.errors import ERROR_DESCRIPTIONS, ORIGIN_MEANINGS, ErrorCode

pytestmark = pytest.mark.django_db


def test_anonymous_browser_gets_401_auth_failed(client):
    r = client.get("/api/v1/me", HTTP_ACCEPT="text/html")
    assert r.status_code == 401
    assert r["Content-Type"].startswith("application/json")
    assert r.json()["code"] == 3305 and r.json()["msg"].startswith("auth failed")
    r = client.get("/usageapi/v1/orders", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert r.status_code == 401 and r.json()["code"] == 3305


def test_not_acceptable_has_its_own_code(api):
    r = api.get("/api/v1/me", HTTP_ACCEPT="application/xml")
    assert r.status_code == 406
    assert r.json()["code"] == ErrorCode.NOT_ACCEPTABLE == 3324


def test_unsupported_media_type_has_its_own_code(api):
    r = api.post("/api/v1/billing/recharge", data="amount=1", content_type="text/plain")
    assert r.status_code == 415 and r.json()["code"] == 3326


def test_csv_report_error_keeps_its_message(api):
    r = api.get("/usageapi/v1/reports?format=csv&period=nonsense")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 3307
    assert "period" in body["msg"] and body["msg"] != "bad request"
    assert "period" in body["data"]["errors"]


@pytest.mark.parametrize(
    "method, path",
    [("delete", "/api/v1/me"), ("put", "/api/v1/billing/recharge"), ("patch", "/usageapi/v1/orders")],
)
def test_wrong_method_is_3303_with_http_405(api, method, path):
    r = getattr(api, method)(path)
    assert r.status_code == 405
    assert r.json()["code"] == 3303


def test_origin_codes_keep_the_origin_meanings():
    for code in (3301, 3304, 3317, 3319):
        assert "reserved (origin: " in ERROR_DESCRIPTIONS[ErrorCode(code)]
    assert ErrorCode.THROTTLED >= 3322 and ErrorCode.SERVICE_UNAVAILABLE >= 3322
    assert ErrorCode.METHOD_NOT_ALLOWED == ErrorCode.UNSUPPORTED_URL == 3303
    # Every code Tally shares with the origin is in the origin's table, and vice versa.
    shared = {int(c) for c in ERROR_DESCRIPTIONS if 0 <= int(c) < 3320}
    assert shared == set(ORIGIN_MEANINGS)


def test_schema_lists_the_whole_table_with_the_origin_meanings(client):
    schema = client.get("/api/schema/?format=json").json()
    codes = schema["info"]["x-error-codes"]
    assert set(codes) == {str(int(c)) for c in ERROR_DESCRIPTIONS}
    origin = schema["info"]["x-origin-error-codes"]
    assert origin["3317"] == "charged but failed to create resource"
    assert "| 3304 | DB_NOT_INITED |" in schema["info"]["description"]
    assert "db is not inited" in schema["info"]["description"]
