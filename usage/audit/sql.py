"""Shared pieces of the ledger audit's checks: the finding, and the SQL helpers (quoted names,
amounts in integer units of 1/10000, raw rows)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Model

UNIT = Decimal("0.0001")
# In-memory temporary tables of the audit's MariaDB session (the window over the billed periods,
# the per-chunk groups): large enough that one sort of a million narrow rows stays in memory
# instead of spilling to an on-disk table (the server default is 16 MB).
AUDIT_TMP_TABLE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    """One inconsistency: which check, which row, what was expected and what was found."""

    check: str
    object_type: str  # account | ledger_entry | usage_record | recharge_order
    object_id: str
    account_id: int | None
    namespace: str
    expected: str
    actual: str
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def units_sql(column: str) -> str:
    """``column`` as an exact amount in SQL, for sums and comparisons: on MariaDB the DECIMAL
    itself (exact already; a CAST per row costs a third of a pass over a million rows), on SQLite
    integer units of 1/10000 (it sums decimals as floats). ``as_units`` reads either back."""
    if connection.vendor == "mysql":
        return column
    return f"CAST(ROUND({column} * 10000) AS INTEGER)"


def as_units(value: int | Decimal | None) -> int:
    """A value of ``units_sql`` (or a sum of them) in integer units of 1/10000."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return int((Decimal(value) / UNIT).to_integral_value())


def units_money(value: int | Decimal | None) -> str:
    return str((Decimal(as_units(value)) * UNIT).quantize(UNIT))


def fetch_rows(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return list(cursor.fetchall())


def table_of(model: type[Model]) -> str:
    return quoted(model._meta.db_table)


def new_finding(*, account_id: int | None, **fields: str) -> Finding:
    return Finding(account_id=account_id, namespace="", **fields)


@contextmanager
def audit_session() -> Iterator[None]:
    """On MariaDB, this connection's temporary tables may grow to ``AUDIT_TMP_TABLE_BYTES`` in
    memory for the block (restored afterwards; the connection is reused by whatever runs next)."""
    if connection.vendor != "mysql":
        yield
        return
    saved = fetch_rows("SELECT @@SESSION.tmp_table_size, @@SESSION.max_heap_table_size")[0]
    fetch_rows("SET SESSION tmp_table_size = %s, max_heap_table_size = %s", [AUDIT_TMP_TABLE_BYTES] * 2)
    try:
        yield
    finally:
        fetch_rows("SET SESSION tmp_table_size = %s, max_heap_table_size = %s", list(saved))
