"""``config.bulk_insert.mysql_values`` writes exactly what mysqlclient's own binding writes
(``cursor.mogrify``), so the batch paths' multi-row INSERTs change speed, not text."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.bulk_insert import mysql_values
from tests.conftest import mariadb_only

pytestmark = [mariadb_only, pytest.mark.django_db]

VALUES = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(),  # quotes, backslashes, NULs, percent signs, any code point
    st.sampled_from(["%s", "%(x)s", "'; DROP TABLE billing_account; --", "\\'", "\x00", "\u2028", "😀"]),
    st.booleans(),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(tzinfo=None)),
    st.dates(),
)


def _mogrified(rows: list[list[object]]) -> str:
    marks = ",".join("(" + ",".join(["%s"] * len(row)) + ")" for row in rows)
    connection.ensure_connection()
    with connection.connection.cursor() as raw:
        return str(raw.mogrify(marks, [v for row in rows for v in row]))


ROWS = st.integers(min_value=1, max_value=6).flatmap(  # one width per statement, as an INSERT has
    lambda width: st.lists(st.lists(VALUES, min_size=width, max_size=width), min_size=1, max_size=5)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ROWS)
def test_the_values_text_is_the_drivers_own(rows):
    connection.ensure_connection()
    assert mysql_values(rows) == _mogrified(rows)


def test_a_hostile_string_round_trips_as_data():
    """What the text is for: a value with quotes, a percent sign and a comment comes back as
    written, and the table is still there."""
    from billing.models import Account

    Account.objects.create(namespace="keep")
    hostile = "x'); DELETE FROM billing_account; -- %s \\ \x00 😀"
    with connection.cursor() as cursor:
        values = mysql_values([[hostile, 7, Decimal("1.2500"), None]])
        cursor.execute(f"SELECT * FROM (VALUES {values}) AS t")  # noqa: S608 - the text under test
        assert cursor.fetchone() == (hostile, 7, Decimal("1.2500"), None)
    assert Account.objects.filter(namespace="keep").exists()


def test_bytes_are_left_to_the_drivers_binding():
    assert mysql_values([[1, b"\xff\xfe"]]) is None
