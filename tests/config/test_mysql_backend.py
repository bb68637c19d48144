"""``config.mysql_backend``: ``atomic()`` opens with ``START TRANSACTION`` (two statements of
transaction control where stock Django sends three) and keeps every guarantee of ``atomic()``:
a rollback leaves nothing, a savepoint rolls back alone, ``on_commit`` runs after the commit only,
the session's autocommit is on again afterwards. Read off the server (its ``Questions`` counter,
``@@autocommit``, ``@@in_transaction``), so only MariaDB can answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection, transaction

from billing.models import Account
from tests.conftest import mariadb_only

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]


def _server(sql: str) -> tuple[object, ...]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(cursor.fetchone())


def _questions() -> int:
    return int(str(_server("SHOW SESSION STATUS LIKE 'Questions'")[1]))


@pytest.fixture
def sent() -> Iterator[list[int]]:
    """How many statements the session sent between the fixture's start and the read of it (the
    counting statement itself excluded)."""
    connection.ensure_connection()
    counts = [_questions()]
    yield counts


def _since(counts: list[int]) -> int:
    return _questions() - counts[0] - 1


def test_the_backend_is_in_use() -> None:
    from django.db import connections

    from config.mysql_backend.base import DatabaseWrapper

    assert isinstance(connections["default"], DatabaseWrapper)


def test_a_transaction_costs_two_statements_of_control(sent: list[int]) -> None:
    with transaction.atomic():
        assert _server("SELECT @@in_transaction, @@autocommit") == (1, 1)
    # START TRANSACTION, the SELECT, COMMIT: no SET autocommit=0 / =1 pair around them
    assert _since(sent) == 3
    assert _server("SELECT @@in_transaction, @@autocommit") == (0, 1)
    assert connection.get_autocommit() is True


def test_a_rollback_leaves_nothing_and_autocommit_on() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        Account.objects.create(namespace="rolled-back")
        raise RuntimeError
    assert not Account.objects.filter(namespace="rolled-back").exists()
    assert _server("SELECT @@in_transaction, @@autocommit") == (0, 1)
    Account.objects.create(namespace="after")  # autocommits: another connection sees it at once
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM billing_account WHERE namespace = 'after'")
            assert cursor.fetchone()[0] == 1
    finally:
        other.close()


def test_a_savepoint_rolls_back_alone() -> None:
    with transaction.atomic():
        Account.objects.create(namespace="kept")
        with pytest.raises(RuntimeError), transaction.atomic():
            Account.objects.create(namespace="inner")
            raise RuntimeError
    assert set(Account.objects.values_list("namespace", flat=True)) == {"kept"}


def test_on_commit_runs_after_the_commit_and_not_after_a_rollback() -> None:
    seen: list[tuple[str, int]] = []
    other = connection.copy()

    def visible_elsewhere(namespace: str) -> None:
        with other.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM billing_account WHERE namespace = %s", [namespace])
            seen.append((namespace, cursor.fetchone()[0]))

    try:
        with transaction.atomic():
            Account.objects.create(namespace="committed")
            transaction.on_commit(lambda: visible_elsewhere("committed"))
            assert seen == []
        with pytest.raises(RuntimeError), transaction.atomic():
            Account.objects.create(namespace="undone")
            transaction.on_commit(lambda: visible_elsewhere("undone"))
            raise RuntimeError
    finally:
        other.close()
    assert seen == [("committed", 1)]


def test_a_durable_block_inside_another_is_refused() -> None:
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        with transaction.atomic(durable=True):
            pass
    assert _server("SELECT @@in_transaction") == (0,)
