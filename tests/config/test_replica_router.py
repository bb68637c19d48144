"""The read-replica router (config/replica.py, issue 21.5) with two aliases: ``replica`` is a TEST
MIRROR of ``default`` (same database), so what a request read on each alias is told apart by the
queries each connection ran. Data is committed (``transaction=True``): a second connection sees it."""

from __future__ import annotations

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from billing.models import Account
from billing.services import account_get_or_create
from config.replica import REPLICA_ALIAS, ReplicaRouter, RequestReads, current_request_reads
from tests.billing.factories import funded_account

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "replica"])]


@pytest.fixture
def replica_on(settings):
    settings.REPLICA_READS = True
    settings.REPLICA_PIN_SECONDS = 30
    return settings


def on_each(fn):
    """(result, queries on default, queries on replica) of ``fn()``."""
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[REPLICA_ALIAS]) as replica,
    ):
        result = fn()
    return result, len(primary), len(replica)


def test_router_reads_the_replica_only_inside_a_marked_request_that_has_not_written(replica_on):
    router = ReplicaRouter()
    assert router.db_for_read(Account) is None  # no request: commands, tasks, beat
    token = current_request_reads.set(RequestReads(replica_ok=True))
    try:
        assert router.db_for_read(Account) == REPLICA_ALIAS
        with transaction.atomic():
            assert router.db_for_read(Account) is None  # a transaction reads its own rows
        assert router.db_for_write(Account) == "default"
        assert router.db_for_read(Account) is None  # wrote: the rest of the request on the primary
    finally:
        current_request_reads.reset(token)
    replica_on.REPLICA_READS = False
    token = current_request_reads.set(RequestReads(replica_ok=True))
    try:
        assert router.db_for_read(Account) is None  # no replica configured: one alias
    finally:
        current_request_reads.reset(token)
    assert router.allow_migrate("default", "billing") and not router.allow_migrate(REPLICA_ALIAS, "billing")


def test_a_list_reads_the_replica_and_the_wallet_page_the_primary(replica_on, user, client_for):
    api = client_for(user)
    funded_account(user.username, "5", member=user)
    response, _, on_replica = on_each(lambda: api.get("/api/v1/billing/records"))
    assert response.status_code == 200 and response.json()["data"]["total"] == 1
    assert on_replica >= 2  # token, account, entries: the list's reads
    response, _, on_replica = on_each(lambda: api.get("/api/v1/billing/account"))
    assert response.status_code == 200 and on_replica == 0  # not marked: the primary
    for path in ("/usageapi/v1/usages", "/usageapi/v1/orders", "/api/v1/orders"):
        response, _, on_replica = on_each(lambda path=path: api.get(path))
        assert response.status_code == 200 and on_replica > 0, path


@pytest.mark.urls("tests.config.replica_urls")
def test_the_request_that_wrote_reads_its_writes_from_the_primary(replica_on, client):
    body = client.get("/t/read-write-read", {"n": "1"}).json()
    assert body == {"first": REPLICA_ALIAS, "second": "default"}
    assert Account.objects.filter(namespace="rw-1").exists()


@pytest.mark.urls("tests.config.replica_urls")
def test_a_client_that_wrote_is_pinned_to_the_primary_and_others_are_not(replica_on, client):
    assert client.get("/t/read", HTTP_AUTHORIZATION="Token a").json()["alias"] == REPLICA_ALIAS
    assert client.post("/t/write?n=2", HTTP_AUTHORIZATION="Token a").status_code == 200
    after = client.get("/t/read", HTTP_AUTHORIZATION="Token a").json()
    assert after == {"alias": "default", "accounts": 1}  # its own write, from the primary
    assert client.get("/t/read", HTTP_AUTHORIZATION="Token b").json()["alias"] == REPLICA_ALIAS
    replica_on.REPLICA_PIN_SECONDS = 0
    client.post("/t/write?n=3", HTTP_AUTHORIZATION="Token c")
    assert client.get("/t/read", HTTP_AUTHORIZATION="Token c").json()["alias"] == REPLICA_ALIAS


def test_admin_changelist_reads_the_replica_and_its_edits_the_primary(replica_on, client, make_user):
    admin = make_user("boss", staff=True, superuser=True)
    client.force_login(admin)
    account_get_or_create(namespace="someone")
    response, _, on_replica = on_each(lambda: client.get("/admin/billing/account/"))
    assert response.status_code == 200 and b"someone" in response.content and on_replica > 0
    response, _, on_replica = on_each(lambda: client.get("/admin/billing/account/add/"))
    assert response.status_code == 200 and on_replica == 0
