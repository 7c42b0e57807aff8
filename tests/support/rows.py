"""Rows read back from the store, as dicts: any table's, the dead letters, and the sync's position."""

from __future__ import annotations

import sqlalchemy as sa

from store import dead_letters, engine_for, sync_state


def rows(database_url: str, table: sa.Table) -> list[dict]:
    with engine_for(database_url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table))]


def letters(database_url: str) -> list[dict]:
    """Every dead letter, oldest first (by id)."""
    with engine_for(database_url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(dead_letters).order_by(dead_letters.c.id))]


def letters_by_target(database_url: str) -> dict[str, dict]:
    return {r["target"]: r for r in rows(database_url, dead_letters)}


def position(database_url: str) -> dict:
    """The sync's one sync_state row."""
    with engine_for(database_url).connect() as conn:
        return dict(conn.execute(sa.select(sync_state)).one()._mapping)
