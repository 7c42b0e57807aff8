"""Keyed writes: upserts on the primary key (a page written twice leaves one row per record), where the newer
read wins, and rows fitted to their columns so one odd record cannot fail a page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from client.text import NOT_UTF8, NOT_UTF8_OR_NUL, replace_unfit


def upsert(conn: Connection, table: sa.Table, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert rows, or update them in place when their primary key exists. Returns the row count."""
    rows = list(rows)
    if not rows:
        return 0
    dialect = conn.engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # portable fallback: one merge per row
        return _merge_rows(conn, table, rows)
    keys = [c.name for c in table.primary_key.columns]
    statement = insert(table)
    update = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys and c.name in rows[0]}
    where = None
    if (version := _version_column(table, rows[0])) is not None:
        where = sa.or_(version.is_(None), statement.excluded[version.name] >= version)
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=update, where=where), rows)
    return len(rows)


def _version_column(table: sa.Table, row: Mapping[str, Any]) -> sa.Column | None:
    """The column whose larger value wins a conflict (table.info["newer_read_wins"]), when the rows set it."""
    name = table.info.get("newer_read_wins")
    return table.c[name] if name and name in row else None


# The largest value a column of each kind holds everywhere we run (PostgreSQL's INTEGER is 32 bits).
_INT_RANGE = (-(2**31), 2**31 - 1)


def fit_row(table: sa.Table, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`row` with each value made to fit its column, and what had to change (empty when nothing).

    SpotDraft's answers are data we do not control: a dict where a name belongs, "abc" or 10**12
    where an integer belongs, a NUL character PostgreSQL refuses in text. Each table keeps the
    record as received in its JSON column; the typed columns get the nearest fitting value (JSON
    text for a structure, NULL for a number that is not one), so one odd record cannot fail a page.
    """
    fitted, changes = dict(row), []
    for name, value in row.items():
        column = table.c.get(name)
        if column is None or value is None or isinstance(column.type, sa.DateTime):
            continue
        new = storable(value) if isinstance(column.type, sa.JSON) else _fit(column.type, value)
        if new is not value and new != value:
            fitted[name] = new
            changes.append(f"{name}: {type(value).__name__} {_preview(value)} stored as {_preview(new)}")
    return fitted, changes


def _fit(kind: sa.types.TypeEngine, value: Any) -> Any:
    if isinstance(kind, sa.Boolean):
        return value if isinstance(value, bool) else None
    if isinstance(kind, sa.Integer):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        ok = isinstance(value, int) and not isinstance(value, bool) and _INT_RANGE[0] <= value <= _INT_RANGE[1]
        return value if ok else None
    if isinstance(kind, sa.String):  # Text too
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        return replace_unfit(text, NOT_UTF8_OR_NUL)  # NUL too: PostgreSQL refuses it in text
    return value


def storable(value: Any) -> Any:
    """A JSON-like value every database can store: lone surrogates (valid JSON, not UTF-8) become U+FFFD.

    For JSON columns (the record as received, a dead letter's inputs); NUL stays, as JSON escapes it.
    """
    return replace_unfit(value, NOT_UTF8)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def upsert_each(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> list[tuple[dict, Exception]]:
    """Upsert rows together, or, when the database refuses the batch, one by one: returns the refused rows.

    Each attempt runs in a savepoint, so a refused row rolls back alone and the rest of the page
    (and its checkpoint, written in the same transaction) still commits. Rows are grouped by the
    columns they set (a row may leave a column out to keep its stored value).
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return [refused for group in groups.values() for refused in _upsert_group(conn, table, group)]


def _upsert_group(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> list[tuple[dict, Exception]]:
    try:
        with conn.begin_nested():
            upsert(conn, table, rows)
        return []
    except _REFUSED:
        pass
    refused = []
    for row in rows:
        try:
            with conn.begin_nested():
                upsert(conn, table, [row])
        except _REFUSED as error:
            refused.append((row, error))
    return refused


# A row the database or its driver will not take (a value it cannot encode, a constraint).
_REFUSED = (sa.exc.DBAPIError, sa.exc.StatementError, UnicodeError, ValueError)


def _merge_rows(conn: Connection, table: sa.Table, rows: list[Mapping[str, Any]]) -> int:
    keys = [c.name for c in table.primary_key.columns]
    for row in rows:
        where = sa.and_(*(table.c[k] == row[k] for k in keys))
        if conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar():
            if (version := _version_column(table, row)) is not None:
                where = sa.and_(where, sa.or_(version.is_(None), version <= row[version.name]))
            conn.execute(table.update().where(where).values(**row))
        else:
            conn.execute(table.insert().values(**row))
    return len(rows)
