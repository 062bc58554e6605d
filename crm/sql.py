"""Set-based SQL the ORM does not write: one INSERT … SELECT.

On the ground floor, so every app's services use the same helper (segments' steps and log,
interactions' deliveries).
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet


def insert_select(model, rows: QuerySet, columns: dict[str, Any], order_by: tuple[str, ...] = ()) -> int:
    """INSERT INTO model's table (columns) SELECT the expressions over `rows`: one statement.

    `columns` maps each column to write to an expression over `rows`; returns the number of
    rows inserted. With `order_by` the rows are inserted in that order, so an auto-numbered key
    follows it (entries numbered in their lines' order). Joins the caller's transaction."""
    aliases = {f"col_{name}": expression for name, expression in columns.items()}
    select = rows.annotate(**aliases).values(*aliases).order_by(*order_by)
    compiler = select.query.get_compiler(using=model.objects.db)
    sql, params = compiler.as_sql()
    names = [alias.removeprefix("col_") for _expression, _sql, alias in compiler.select]
    table = connection.ops.quote_name(model._meta.db_table)
    target = ", ".join(connection.ops.quote_name(name) for name in names)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({target}) {sql}", params)
        return cursor.rowcount
