"""One INSERT for a batch of plain rows, for the hot paths that write thousands of rows
at once (the outbox's enqueue_many, a campaign batch's assignments).

`bulk_create` builds and prepares a model instance per row; for a campaign batch of
1,000 recipients that was a third of the scheduler's time (bench/campaigns.py). Here
the caller gives tuples of values in field order. On PostgreSQL the rows travel as
one typed array per column: `INSERT ... SELECT * FROM unnest(%s::type[], ...)`, a
single short statement whatever the batch size. Elsewhere (SQLite: `make demo`) it
is an `INSERT ... VALUES` per chunk with every value prepared by its field.

Values must already be what the field stores (no defaults are applied, no
`pre_save`): give every NOT NULL column a value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import psycopg
from django.db import connections, models, router


def insert_rows(
    model: type[models.Model],
    field_names: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    ignore_conflicts_on: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[tuple]:
    """INSERT `rows` (tuples in `field_names` order) into `model`'s table. With
    `ignore_conflicts_on` (the fields of a unique constraint) a row that would
    collide is skipped. Returns the `returning` fields of the rows inserted."""
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    head = (
        f"INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(field.column) for field in fields)}) "
    )
    tail = ""
    if ignore_conflicts_on:
        target = ", ".join(quote(meta.get_field(n).column) for n in ignore_conflicts_on)
        tail += f" ON CONFLICT ({target}) DO NOTHING"
    if returning:
        tail += " RETURNING " + ", ".join(
            quote(meta.get_field(name).column) for name in returning
        )
    found: list[tuple] = []
    if connection.vendor == "postgresql":
        arrays = []
        for index, field in enumerate(fields):
            column = [row[index] for row in rows]
            if isinstance(field, models.JSONField):
                column = [
                    None if value is None else json.dumps(value, cls=field.encoder)
                    for value in column
                ]
            arrays.append(column)
        casts = ", ".join(f"%b::{field.db_type(connection)}[]" for field in fields)
        # Names and types come from the model, never from input.
        sql = f"{head}SELECT * FROM unnest({casts}){tail}"  # noqa: S608
        connection.ensure_connection()
        # Server-side binding: the arrays travel as parameters, not spliced into a
        # multi-megabyte statement that the server would have to parse (Django's
        # cursors bind client-side). Errors become Django's (and mark the
        # connection for the usual health check), as through Django's cursors.
        with (
            connection.wrap_database_errors,
            psycopg.Cursor(connection.connection) as cursor,
        ):
            cursor.execute(sql, arrays)
            return cursor.fetchall() if returning else []
    with connection.cursor() as cursor:
        size = max(1, connection.ops.bulk_batch_size(fields, rows))
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            params = [
                field.get_db_prep_save(value, connection)
                for row in chunk
                for field, value in zip(fields, row, strict=True)
            ]
            cursor.execute(
                head + "VALUES " + ", ".join([placeholders] * len(chunk)) + tail,
                params,
            )
            if returning:
                found.extend(cursor.fetchall())
    return found


def update_column(
    model: type[models.Model],
    field_name: str,
    values: dict[int, object],
) -> int:
    """UPDATE one column of many rows, each to its own value ({pk: value}), in
    one statement. Returns the number of rows updated."""
    if not values:
        return 0
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    field = meta.get_field(field_name)
    if connection.vendor != "postgresql":
        whens = [
            models.When(pk=pk, then=models.Value(value, output_field=field))
            for pk, value in values.items()
        ]
        return model._base_manager.filter(pk__in=list(values)).update(
            **{field_name: models.Case(*whens, output_field=field)}
        )
    quote = connection.ops.quote_name
    table, column, pk_column = (
        quote(meta.db_table),
        quote(field.column),
        quote(meta.pk.column),
    )
    sql = (
        f"UPDATE {table} SET {column} = v.value "  # noqa: S608  (names from the model)
        f"FROM unnest(%b::{meta.pk.db_type(connection)}[], "
        f"%b::{field.db_type(connection)}[]) AS v(pk, value) "
        f"WHERE {table}.{pk_column} = v.pk"
    )
    connection.ensure_connection()
    with (
        connection.wrap_database_errors,
        psycopg.Cursor(connection.connection) as cursor,
    ):
        cursor.execute(sql, [list(values), list(values.values())])
        return cursor.rowcount
