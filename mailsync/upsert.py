"""One-statement upsert of many header rows.

Django's bulk_create(update_conflicts=True) builds one placeholder per
field per row, and compiling that took about a third of the backfill's
local time (bench/bench_backfill.py). On PostgreSQL the rows go instead as
one array per column through unnest(), so the statement has as many
parameters as the table has columns. Other databases (SQLite for the demo)
use bulk_create.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from django.db.models import Field, ForeignObjectRel

import psycopg

from mailsync.models import MessageHeader

UNIQUE_FIELDS = ("account", "nylas_message_id")


def concrete_column(field: Field[Any, Any] | ForeignObjectRel) -> str:
    """Return the database column of a concrete field.

    Django marks a field concrete exactly when its column is set, but the
    stubs type `column` as optional and `get_field` as possibly a relation.
    """
    assert isinstance(field, Field)
    assert field.column is not None
    return field.column


def upsert_headers(
    rows: Sequence[MessageHeader], update_fields: Sequence[str]
) -> dict[str, int]:
    """Insert or update `rows` (unique on account and Nylas message id);
    return the primary key of each by Nylas message id."""
    if not rows:
        return {}
    if connection.vendor != "postgresql":
        saved = MessageHeader.objects.bulk_create(
            list(rows),
            update_conflicts=True,
            unique_fields=list(UNIQUE_FIELDS),
            update_fields=list(update_fields),
        )
        return {row.nylas_message_id: row.pk for row in saved}
    return _upsert_postgresql(rows, update_fields)


def _upsert_postgresql(
    rows: Sequence[MessageHeader], update_fields: Sequence[str]
) -> dict[str, int]:
    meta = MessageHeader._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(concrete_column(field)) for field in fields)
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    conflict = ", ".join(
        quote(concrete_column(meta.get_field(name))) for name in UNIQUE_FIELDS
    )
    updated_columns = [
        quote(concrete_column(meta.get_field(name))) for name in update_fields
    ]
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in updated_columns)
    values = [_column_values(field, rows) for field in fields]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "
        f"SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates} "
        f"RETURNING {quote(concrete_column(meta.pk))}, {quote('nylas_message_id')}"
    )
    # A server-binding psycopg cursor sends each array as one parameter;
    # Django's connection makes client-binding cursors, which would quote
    # every element into the SQL text and cost as much as the statement.
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, values)
        return {message_id: pk for pk, message_id in cursor.fetchall()}


def _column_values(field: Field[Any, Any], rows: Sequence[MessageHeader]) -> list[Any]:
    """One column's values. Python values bind as they are (aware datetimes,
    strings, numbers); JSON goes as text and is cast to jsonb in SQL."""
    values = [field.pre_save(row, add=True) for row in rows]
    if isinstance(field, models.JSONField):
        return [None if value is None else json.dumps(value) for value in values]
    return values
