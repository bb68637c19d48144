"""``rows_update``: write new values of several fields on many rows with one UPDATE statement.

Django's ``QuerySet.bulk_update`` builds the same ``CASE`` statement, but through one
``When(pk=..., then=Value(...))`` expression per row and field, each resolved and compiled: at
100 rows x 5 fields that compilation cost 3 of the 5 CPU seconds of a renewal chunk (B1 profile,
docs/benchmarks.md). Here the statement is assembled as a string with placeholders and the values
go through the backend's adapters (``config.bulk_insert.field_adapter``, the inserts' own):
``get_db_prep_save`` per value was 0.45 of 2.1 CPU seconds of 2,000 renewals (B1 profile).

Use it only on rows the caller has locked (or owns) in the current transaction: like
``bulk_update`` it sets the values given, it does not compare-and-set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router

from config.bulk_insert import field_adapter

MAX_ROWS_PER_STATEMENT = 500


def rows_update(objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """UPDATE ``fields`` of every object in ``objs`` (all of one model) to their attribute values;
    return the number of rows matched."""
    if not objs:
        return 0
    model = type(objs[0])
    if hasattr(model, "rows_inserted"):  # usage records: their rollups follow the ORM's writes only
        raise TypeError(f"{model.__name__} keeps derived rows: update it through its queryset")
    meta = model._meta
    alias = router.db_for_write(model)
    connection = connections[alias]
    quote = connection.ops.quote_name
    pk_column = quote(meta.pk.column)  # type: ignore[union-attr]
    columns: list[models.Field[Any, Any]] = []
    for name in fields:
        field = meta.get_field(name)
        if not isinstance(field, models.Field) or not field.concrete or field.primary_key:
            raise ValueError(f"{model.__name__}.{name} is not a concrete, non-key column")
        columns.append(field)
    adapters = [field_adapter(field, connection) for field in columns]
    matched = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), MAX_ROWS_PER_STATEMENT):
            batch = objs[start : start + MAX_ROWS_PER_STATEMENT]
            whens = " ".join(["WHEN %s THEN %s"] * len(batch))
            assignments: list[str] = []
            params: list[Any] = []
            for field, adapt in zip(columns, adapters, strict=True):
                assignments.append(f"{quote(str(field.column))} = CASE {pk_column} {whens} END")
                attname = field.attname
                for obj in batch:
                    params.extend((obj.pk, adapt(getattr(obj, attname))))
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(  # names quoted by the backend, every value a placeholder
                f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} WHERE {pk_column} IN ({marks})",  # noqa: S608
                [*params, *(obj.pk for obj in batch)],
            )
            matched += cursor.rowcount
    return matched
