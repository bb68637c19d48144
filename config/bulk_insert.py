"""Multi-row INSERTs without ``bulk_create``'s per-value compilation (statements, the batch
charges of renewals and of ``deduct-quota/batch``).

``bulk_create`` prepares every value through its field (``get_db_prep_save``) and compiles one
placeholder expression per value: for a chunk of 500 statements and 3,000 lines that was 7 of 12
seconds, against 1 second of SQL (B6 profile, docs/benchmarks.md), and half of a 1,000-call batch
deduction (B2b). Here one statement per table is written with placeholders and the values are
adapted by type with the backend's own adapters (``adapt_datetimefield_value``,
``adapt_datefield_value``, JSON as the JSONField writes it); decimals and integers go to the driver
as they are. The rows are the ones ``bulk_create`` writes, ``auto_now``/``auto_now_add`` columns
included. Primary keys are left to the database; ``rows_insert(..., returning=True)`` reads them
back in the same statement (``INSERT ... RETURNING``, MariaDB 10.5+ and SQLite 3.35+, the backends'
``can_return_rows_from_bulk_insert``, as ``bulk_create`` does) where the backend can.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from django.db import connection, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.base import ModelState
from django.utils import timezone

BATCH = 1000


def as_is(value: Any) -> Any:
    """The adapter of a value the driver takes as it is (decimals, integers, strings, keys)."""
    return value


def _repeats_remembered(adapt: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``adapt`` answering a repeat of the value it was just given without adapting it again: the
    rows of one insert share their ``created_at`` (one ``timezone.now()``), and the backend's
    datetime adapter (time zone conversion, then text) was 2,000 calls per batch deduction."""
    last: list[Any] = [object(), None]

    def remembered(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, adapt(value)
        return last[1]

    return remembered


def field_adapter(field: models.Field, on: BaseDatabaseWrapper | None = None) -> Callable[[Any], Any]:
    """How a value of ``field`` goes to the driver: the backend's adapter for dates, times and
    JSON, ``as_is`` otherwise. Made per statement: the datetime adapter remembers its last value."""
    ops = (on or connection).ops
    if isinstance(field, models.DateTimeField):
        return _repeats_remembered(ops.adapt_datetimefield_value)
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: "[]" if value == [] else json.dumps(value, cls=encoder)
    return as_is


def _fields(model: type[models.Model], names: Sequence[str] | None) -> list[models.Field]:
    concrete = [f for f in model._meta.concrete_fields if not f.primary_key]
    if names is None:
        return concrete
    by_name = {f.name: f for f in concrete} | {f.attname: f for f in concrete}
    return [by_name[n] for n in names]


def _execute(model: type[models.Model], fields: Sequence[models.Field], rows: list[list[Any]]) -> None:
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            # mysqlclient's executemany writes one multi-row INSERT, split by its statement size
            cursor.executemany(sql, rows[start : start + BATCH])


class _NeedsBinding(Exception):
    """A value the statement text cannot carry as ``str`` (bytes that need not be UTF-8)."""


def mysql_values(rows: Sequence[Sequence[Any]]) -> str | None:
    """The ``VALUES`` list of ``rows`` as mysqlclient would write it, built by value type.

    mysqlclient binds parameters in Python: ``Connection.literal`` per value, then ``query % args``.
    For the 13,000 values of one 1,000-call batch deduction that was the largest CPU cost of the
    batch (B2b profile, docs/benchmarks.md). The common types here take the driver's own result
    directly: ``str`` through the connection's ``string_literal`` (the same C escaping, in the
    connection's encoding), ``int`` and finite ``Decimal`` as mysqlclient's converters write them
    (``str``, ``format(v, "f")``), ``None`` as NULL; anything else goes to ``literal`` itself.
    ``tests/config/test_mysql_values.py`` checks the text equals the driver's ``mogrify``. The
    statement is then sent without parameters, so a ``%`` in a value is never interpolated. None
    when a value is bytes (the caller binds parameters as before)."""
    db = connection.connection
    string_literal, encoding, literal = db.string_literal, db.encoding, db.literal

    def value(v: Any) -> bytes:
        kind = type(v)
        if kind is str:
            return string_literal(v.encode(encoding))  # type: ignore[no-any-return]
        if kind is int:
            return b"%d" % v
        if kind is Decimal and v.is_finite():
            return format(v, "f").encode("ascii")
        if v is None:
            return b"NULL"
        if isinstance(v, bytes | bytearray | memoryview):
            raise _NeedsBinding
        return literal(v)  # type: ignore[no-any-return]

    try:
        text = b",".join([b"(" + b",".join([value(v) for v in row]) + b")" for row in rows])
    except _NeedsBinding:
        return None
    return text.decode(encoding)


def _execute_returning(
    model: type[models.Model], fields: Sequence[models.Field], rows: list[list[Any]]
) -> list[Any]:
    """The multi-row INSERTs of ``rows`` with ``RETURNING`` the primary key: the keys in the order
    of ``rows`` (the order the backends return them in, which ``bulk_create`` relies on too)."""
    quote = connection.ops.quote_name
    one = f"({', '.join(['%s'] * len(fields))})"
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES "  # noqa: S608
    pk = quote(model._meta.pk.column)
    keys: list[Any] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            part = rows[start : start + BATCH]
            text = mysql_values(part) if connection.vendor == "mysql" else None
            if text is not None:
                cursor.execute(f"{head}{text} RETURNING {pk}")
            else:
                values = ", ".join([one] * len(part))
                cursor.execute(f"{head}{values} RETURNING {pk}", [v for row in part for v in row])
            keys.extend(row[0] for row in cursor.fetchall())
    if len(keys) != len(rows):  # a backend that returned fewer rows than it inserted: never guess
        raise RuntimeError(f"INSERT ... RETURNING gave {len(keys)} keys for {len(rows)} rows")
    return keys


def rows_insert(objs: Sequence[models.Model], *, returning: bool = False) -> bool:
    """INSERT ``objs`` (new rows of one model). With ``returning``, on a backend that can return
    rows from a multi-row INSERT, each object gets its primary key from the same statement and
    True is returned; otherwise the keys are left unread and False is returned (the caller reads
    them back itself)."""
    if not objs:
        return returning
    model = type(objs[0])
    fields = _fields(model, None)
    now = timezone.now()
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objs:
                if getattr(obj, field.attname) is None:
                    setattr(obj, field.attname, now)
    rows = _rows_of(objs, fields)
    read_back = returning and connection.features.can_return_rows_from_bulk_insert
    if read_back:
        db = connection.alias
        for obj, key in zip(objs, _execute_returning(model, fields, rows), strict=True):
            obj.pk = key
            obj._state.adding = False
            obj._state.db = db
    else:
        _execute(model, fields, rows)
    hook = getattr(model, "rows_inserted", None)  # a model keeping derived rows (usage rollups)
    if hook is not None:
        hook(objs)
    return read_back


def _rows_of(objs: Sequence[models.Model], fields: Sequence[models.Field]) -> list[list[Any]]:
    """Each object's values of ``fields``, adapted: one ``attrgetter`` per row, adapters only on
    the columns that have one."""
    values_of = operator.attrgetter(*(f.attname for f in fields))
    adapted = [(i, adapt) for i, adapt in enumerate(field_adapter(f) for f in fields) if adapt is not as_is]
    if len(fields) == 1:
        rows = [[values_of(obj)] for obj in objs]
    else:
        rows = [list(values_of(obj)) for obj in objs]
    for row in rows:
        for i, adapt in adapted:
            row[i] = adapt(row[i])
    return rows


def values_insert(model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT ``rows`` of attribute values in the order of ``names`` (field names or attnames)
    without building model instances (the lines of a chunk: thousands of rows)."""
    if hasattr(model, "rows_inserted"):
        raise TypeError(f"{model.__name__} keeps derived rows: insert instances (rows_insert)")
    if not rows:
        return
    fields = _fields(model, names)
    adapters = [field_adapter(f) for f in fields]
    _execute(model, fields, [[adapt(v) for adapt, v in zip(adapters, row, strict=True)] for row in rows])


M = TypeVar("M", bound=models.Model)


def instance_maker(model: type[M]) -> Callable[..., M]:
    """A constructor of new, unsaved ``model`` instances for the batch paths, taking field names
    or attnames as ``Model(**kwargs)`` does, at a tenth of its cost: ``Model.__init__`` walks every
    field per object (~57 us for a ledger entry under load; 1,000 per batch deduction, three per
    renewal), this fills ``__dict__`` from defaults computed once. A callable default (``dict``,
    ``timezone.now``) is still called per object; a related object given by field name is kept
    in the instance's cache like ``__init__`` keeps it. Unknown names raise ``TypeError``.
    Nothing here sends ``pre_init``/``post_init``: only for models without such receivers."""
    static: dict[str, Any] = {}
    called: list[tuple[str, Callable[[], Any]]] = []
    relations: dict[str, str] = {}  # field name -> attname of a foreign key
    attnames = set()
    for field in model._meta.concrete_fields:
        attnames.add(field.attname)
        if field.is_relation and field.name != field.attname:
            relations[field.name] = field.attname
        if field.primary_key or not field.has_default():
            static[field.attname] = None if field.primary_key or field.null else field.get_default()
        elif callable(field.default):
            called.append((field.attname, field.default))
        else:
            static[field.attname] = field.get_default()

    def make(**values: Any) -> M:
        obj = model.__new__(model)
        state = ModelState()
        obj._state = state
        data = obj.__dict__
        data.update(static)
        for called_name, default in called:
            if called_name not in values:
                data[called_name] = default()
        for name, value in values.items():
            key_name = relations.get(name)
            if key_name is not None:
                data[key_name] = None if value is None else value.pk
                state.fields_cache[name] = value
            elif name in attnames:
                data[name] = value
            else:
                raise TypeError(f"{model.__name__} got an unexpected field {name!r}")
        return obj

    return make
