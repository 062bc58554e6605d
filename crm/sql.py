"""Set-based SQL the ORM does not write: one INSERT … SELECT.

On the ground floor, so every app's services use the same helper (segments' steps and log,
interactions' deliveries).
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet


def insert_select(
    model, rows: QuerySet, columns: dict[str, Any], order_by: tuple[str, ...] = (), *, skip_existing: bool = False
) -> int:
    """INSERT INTO model's table (columns) SELECT the expressions over `rows`: one statement.

    `columns` maps each column to write to an expression over `rows`; returns the number of
    rows inserted. With `order_by` the rows are inserted in that order, so an auto-numbered key
    follows it (entries numbered in their lines' order). With `skip_existing` a row that a unique
    constraint already holds (one another transaction wrote meanwhile) is left out instead of
    failing the statement, and is not counted. Joins the caller's transaction."""
    aliases = {f"col_{name}": expression for name, expression in columns.items()}
    select = rows.annotate(**aliases).values(*aliases).order_by(*order_by)
    compiler = select.query.get_compiler(using=model.objects.db)
    sql, params = compiler.as_sql()
    names = [alias.removeprefix("col_") for _expression, _sql, alias in compiler.select]
    table = connection.ops.quote_name(model._meta.db_table)
    target = ", ".join(connection.ops.quote_name(name) for name in names)
    insert, tail = "INSERT", ""
    if skip_existing and connection.vendor == "sqlite":
        insert = "INSERT OR IGNORE"  # needs no WHERE in the SELECT, as SQLite's upsert would
    elif skip_existing:
        tail = " ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(f"{insert} INTO {table} ({target}) {sql}{tail}", params)
        return cursor.rowcount
