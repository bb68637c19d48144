from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from billing.models import LedgerEntry, RechargeEvent, RechargeOrder
from billing.recharges import recharge_create
from billing.signature import sign
from tests.billing.factories import funded_account, ledger_sum

pytestmark = pytest.mark.django_db
URL = "/internal/v1/billing/callback"


@pytest.fixture
def order():
    acc = funded_account("acme", "0")
    return recharge_create(account=acc, amount="50.00", currency="CNY", payment_method="sandbox")


def body_for(order, *, amount=None, status="SUCCESS", payment_id="PAY-1") -> bytes:
    payload = {
        "recharge_order_id": order.public_id,
        "payment_id": payment_id,
        "amount": amount if amount is not None else str(order.amount),
        "status": status,
    }
    return json.dumps(payload).encode()


def post(client, body: bytes, signature: str | None):
    headers = {"HTTP_X_TALLY_SIGNATURE": signature} if signature is not None else {}
    return client.post(URL, data=body, content_type="application/json", **headers)


def test_success_credits_once_and_replay_is_noop(client, order):
    body = body_for(order)
    r = post(client, body, sign(body))
    assert r.status_code == 200, r.json()
    assert r.json()["data"] == {
        "recharge_order_id": order.public_id,
        "status": "success",
        "outcome": "credited",
    }
    r = post(client, body, sign(body))
    assert r.status_code == 200 and r.json()["data"]["outcome"] == "noop"
    order.refresh_from_db()
    assert order.status == "success" and order.payment_id == "PAY-1"
    entry = LedgerEntry.objects.get(kind="recharge", subject_id=order.public_id)
    assert entry.idempotency_key == f"recharge:{order.public_id}" and entry.amount == Decimal("50")
    order.account.refresh_from_db()
    assert order.account.balance == Decimal("50") == ledger_sum(order.account)
    assert list(order.events.values_list("to_status", flat=True)) == ["pending", "success"]


def test_old_secret_and_several_v1_values_accepted(client, order):
    body = body_for(order)
    old = sign(body, secret="old-secret")
    bogus = "v1=" + "0" * 64
    header = old.replace(",v1=", f",{bogus},v1=")
    r = post(client, body, header)
    assert r.status_code == 200 and r.json()["data"]["outcome"] == "credited"


@pytest.mark.parametrize(
    "make_header",
    [
        lambda b: None,
        lambda b: "garbage",
        lambda b: sign(b, secret="wrong"),
        lambda b: sign(b + b" "),
        # a minute past the 300 s tolerance: one second past it let "future" through on a loaded
        # machine, where the request is verified more than a second after it was signed
        lambda b: sign(b, timestamp=int(time.time()) - 360),
        lambda b: sign(b, timestamp=int(time.time()) + 360),
        lambda b: "t=abc,v1=00",
    ],
    ids=["missing", "garbage", "wrong-secret", "other-body", "stale", "future", "bad-t"],
)
def test_bad_or_stale_signature_is_401_and_changes_nothing(client, order, make_header):
    body = body_for(order)
    r = post(client, body, make_header(body))
    assert r.status_code == 401 and r.json()["code"] == 190303
    order.refresh_from_db()
    assert order.status == "pending" and LedgerEntry.objects.count() == 0


def test_tampered_amount_with_original_signature_rejected(client, order):
    body = body_for(order)
    header = sign(body)
    tampered = body_for(order, amount="5000.00")
    r = post(client, tampered, header)
    assert r.status_code == 401 and LedgerEntry.objects.count() == 0


def test_wrong_amount_goes_to_review_and_credits_nothing(client, order):
    body = body_for(order, amount="49.99")
    r = post(client, body, sign(body))
    assert r.status_code == 400 and r.json()["code"] == 190302
    order.refresh_from_db()
    assert order.status == "review" and "49.99" in order.review_reason
    assert LedgerEntry.objects.count() == 0
    good = body_for(order)  # a later correct callback does not bypass the review
    r = post(client, good, sign(good))
    assert r.status_code == 400 and r.json()["code"] == 190302
    assert LedgerEntry.objects.count() == 0


def test_failed_marks_failed_then_late_success_credits(client, order):
    body = body_for(order, status="FAILED")
    r = post(client, body, sign(body))
    assert r.status_code == 200 and r.json()["data"]["status"] == "failed"
    order.refresh_from_db()
    assert order.status == "failed" and LedgerEntry.objects.count() == 0
    r = post(client, body, sign(body))
    assert r.json()["data"]["outcome"] == "noop"
    ok = body_for(order)
    r = post(client, ok, sign(ok))
    assert r.json()["data"]["outcome"] == "credited"
    assert LedgerEntry.objects.filter(kind="recharge").count() == 1


def test_failed_after_success_changes_nothing(client, order):
    ok = body_for(order)
    post(client, ok, sign(ok))
    fail = body_for(order, status="FAILED")
    r = post(client, fail, sign(fail))
    assert r.status_code == 200 and r.json()["data"] == {
        **r.json()["data"],
        "status": "success",
        "outcome": "noop",
    }


def test_unknown_order_is_404(client):
    body = json.dumps(
        {"recharge_order_id": "RNOPE", "payment_id": "x", "amount": "1", "status": "SUCCESS"}
    ).encode()
    r = post(client, body, sign(body))
    assert r.status_code == 404 and r.json()["code"] == 190301


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1,2]",
        json.dumps({"recharge_order_id": "R1", "amount": "1", "status": "MAYBE"}).encode(),
    ],
)
def test_malformed_signed_body_is_400(client, payload):
    r = post(client, payload, sign(payload))
    assert r.status_code == 400 and r.json()["code"] == 190101


def test_settle_arrears_sent_by_name_after_credit_whatever_the_registry(
    client, order, monkeypatch, django_capture_on_commit_callbacks
):
    """No "is the task registered here?" guard: the web process does not know usage's tasks."""
    from config import enqueue

    sent = []

    class AppWithoutTasks:
        tasks: dict = {}

        def signature(self, name, kwargs):
            class Sig:
                def apply_async(self):
                    sent.append((name, kwargs))

            return Sig()

    monkeypatch.setattr(enqueue, "current_app", AppWithoutTasks())
    body = body_for(order)
    with django_capture_on_commit_callbacks(execute=True):
        r = post(client, body, sign(body))
    assert r.status_code == 200
    assert sent == [("usage.settle_arrears", {"account_id": order.account_id})]
    with django_capture_on_commit_callbacks(execute=True):
        post(client, body, sign(body))  # replay: nothing credited, nothing enqueued
    assert len(sent) == 1


def test_sandbox_page_carries_a_valid_signed_callback(client, order):
    r = client.get(order.pay_url.removeprefix("http://testserver"))  # the creator's URL, with its token
    assert r.status_code == 200
    ctx = r.context
    r = post(client, ctx["pay_body"].encode(), ctx["pay_signature"])
    assert r.status_code == 200 and r.json()["data"]["status"] == "success"
    assert RechargeEvent.objects.filter(recharge=order, to_status="success").exists()
    assert client.get("/sandbox/pay/RNOPE").status_code == 404


def test_http_provider_errors_mark_order_failed(settings, order):
    import requests

    from billing.errors import PaymentServiceError, PaymentServiceTimeout
    from billing.payments import http as http_mod

    settings.PAYMENT_SERVICE_URL = "http://payments.invalid"

    class Session:
        def __init__(self, exc=None, status=200, data=None):
            self.exc, self.status, self.data, self.calls = exc, status, data, 0

        def post(self, *a, **kw):
            self.calls += 1
            if self.exc:
                raise self.exc

            class R:
                status_code = self.status

                def json(inner):
                    return self.data

            return R()

    orig = http_mod.HttpProvider.__init__
    for sess, err in (
        (Session(exc=requests.Timeout()), PaymentServiceTimeout),
        (Session(exc=requests.ConnectionError()), PaymentServiceError),
        (Session(status=503), PaymentServiceError),
        (Session(status=400), PaymentServiceError),
    ):
        http_mod.BACKOFF_SECONDS = 0
        http_mod.HttpProvider.__init__ = lambda self, base_url=None, session=None, s=sess: orig(
            self, base_url, s
        )
        try:
            with pytest.raises(err):
                recharge_create(account=order.account, amount="1", currency="CNY", payment_method="http")
        finally:
            http_mod.HttpProvider.__init__ = orig
        assert sess.calls == (1 if sess.status == 400 else 3)
    assert set(RechargeOrder.objects.filter(payment_method="http").values_list("status", flat=True)) == {
        "failed"
    }
    ok = Session(data={"payment_id": "P9", "pay_url": "https://pay.example/P9"})
    http_mod.HttpProvider.__init__ = lambda self, base_url=None, session=None: orig(self, base_url, ok)
    try:
        o = recharge_create(account=order.account, amount="1", currency="CNY", payment_method="http")
    finally:
        http_mod.HttpProvider.__init__ = orig
    assert (o.status, o.pay_url, o.payment_id) == ("pending", "https://pay.example/P9", "P9")
