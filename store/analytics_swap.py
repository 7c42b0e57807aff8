"""An analytics table's snapshot: loaded page by page into a staging table, then swapped in at once.

The staging table is a TEMPORARY copy of analytics_<table>, private to the one connection that loads it:
a page is committed as it arrives (memory stays flat in the table's size), nothing of it is visible to
anyone else, and on SQLite its writes take no lock on the database file (the temp database is apart).
If the load stops (an error, a kill), the staging table goes with its connection and the previous
snapshot was never touched. The swap is one transaction: analytics_<table> emptied, filled from the
staging table, and its row in analytics_snapshots rewritten; a reader (PostgreSQL's MVCC, SQLite's WAL)
sees the previous snapshot until it commits and the new one after, never a mix, and the recorded row
count always matches the table's. Two swaps of one table (two runs at once) take turns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.engine import database_now
from store.tables import analytics_snapshots


def _staging(table: sa.Table) -> sa.Table:
    copy = sa.Table(f"staging_{table.name}", sa.MetaData(), *(sa.Column(c.name, c.type) for c in table.columns),
                    prefixes=["TEMPORARY"])
    return copy


@dataclass
class SnapshotLoad:
    """A load under way (see `loading`): `add` each page, then `swap` once every page is in."""

    conn: Connection
    table: sa.Table
    staging: sa.Table
    rows: int = 0

    def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(self.staging.insert(), rows)
        self.conn.commit()
        self.rows += len(rows)

    def swap(self, *, taken_at: datetime, pages: int, paging: str, user_scoped: bool | None,
             flow_run_id: str | None) -> int:
        """Replace the table's rows with the staged ones and record the snapshot, in one transaction."""
        columns = [c.name for c in self.table.columns]
        with self.conn.begin():
            if self.conn.dialect.name == "postgresql":
                # One swap of a table at a time: a DELETE begun while another swap is uncommitted would wait for it
                # and then not see its rows (READ COMMITTED), leaving both snapshots in the table. This mode blocks
                # other writers only; readers (ACCESS SHARE) go on. SQLite has one writer at a time anyway.
                name = self.conn.dialect.identifier_preparer.format_table(self.table)
                self.conn.exec_driver_sql(f"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE")
            self.conn.execute(self.table.delete())
            self.conn.execute(self.table.insert().from_select(columns, sa.select(*self.staging.c)))
            stored = self.conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one()
            self.conn.execute(analytics_snapshots.delete().where(
                analytics_snapshots.c.table_name == self.table.name.removeprefix("analytics_")))
            self.conn.execute(analytics_snapshots.insert().values(
                table_name=self.table.name.removeprefix("analytics_"), taken_at=taken_at,
                swapped_at=database_now(self.conn), row_count=stored, pages=pages, paging=paging,
                user_scoped=user_scoped, flow_run_id=flow_run_id))
        return stored


@contextmanager
def loading(engine: Engine, table: sa.Table) -> Iterator[SnapshotLoad]:
    """A fresh staging table for `table` on a connection of its own, dropped when the block ends."""
    staging = _staging(table)
    with engine.connect() as conn:
        staging.drop(conn, checkfirst=True)
        staging.create(conn)
        conn.commit()
        try:
            yield SnapshotLoad(conn, table, staging)
        finally:
            if conn.in_transaction():
                conn.rollback()
            staging.drop(conn, checkfirst=True)
            conn.commit()


def snapshot_of(engine: Engine, table_name: str) -> dict[str, Any] | None:
    """analytics_snapshots' row for a catalog table, if it was ever synced."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(analytics_snapshots).where(analytics_snapshots.c.table_name == table_name)).first()
    return dict(row._mapping) if row else None
