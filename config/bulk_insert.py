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
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.base import ModelState
from django.utils import timezone

BATCH = 1000


def field_adapter(field: models.Field, on: BaseDatabaseWrapper | None = None) -> Callable[[Any], Any]:
    """How a value of ``field`` goes to the driver: the backend's adapter for dates, times and
    JSON, the value itself otherwise (decimals, integers, strings, keys)."""
    ops = (on or connection).ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: "[]" if value == [] else json.dumps(value, cls=encoder)
    return lambda value: value


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
            cursor.executemany(sql, rows[start : start + BATCH])


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
    adapters = [(f.attname, field_adapter(f)) for f in fields]
    rows = [[adapt(getattr(obj, name)) for name, adapt in adapters] for obj in objs]
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
