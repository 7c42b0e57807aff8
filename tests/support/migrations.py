"""Databases made by earlier releases (SQL snapshots in tests/data/), their rows, schema and versions read back, and
processes racing to upgrade one."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from store import metadata
from store.migrations import VERSION_TABLE
from tests.support.paths import ROOT

DATA = ROOT / "tests" / "data"


def dialect_of(url: str) -> str:
    return sa.engine.make_url(url).get_backend_name()


def load_snapshot(url: str, variant: str) -> None:
    sql = DATA / f"schema_{variant}_{dialect_of(url)}.sql"
    if dialect_of(url) == "sqlite":
        with contextlib.closing(sqlite3.connect(sa.engine.make_url(url).database)) as conn:
            conn.executescript(sql.read_text())
    else:
        from tests.support.databases import postgres_bin

        libpq_url = url.replace("postgresql+psycopg://", "postgresql://")
        subprocess.run([f"{postgres_bin()}/psql", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(sql), libpq_url],
                       check=True, capture_output=True)


@contextlib.contextmanager
def connected(url: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def all_rows(url: str) -> dict[str, dict[tuple, dict]]:
    """Every row of every table but the version's, by table and primary key, read through reflection."""
    with connected(url) as conn:
        reflected = sa.MetaData()
        reflected.reflect(conn)
        return {table.name: {tuple(row[c.name] for c in table.primary_key.columns): dict(row)
                             for row in conn.execute(sa.select(table)).mappings()}
                for table in reflected.sorted_tables if table.name != VERSION_TABLE}


def schema_differences(url: str) -> list:
    """What Alembic's autogenerate would change to make the database match store.tables.metadata."""
    with connected(url) as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        return compare_metadata(context, metadata)


def versions(url: str) -> list[str]:
    with connected(url) as conn:
        return [row[0] for row in conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")]


def race(script: str, url: str, processes: int = 2) -> list[tuple[int, str, str]]:
    """Run `python -c script url ROOT` in `processes` processes at once: each must print "ready" (imported and
    connected) before any is told to go (a line on its stdin). Returns each one's (returncode, stdout, stderr)."""
    racers = [subprocess.Popen([sys.executable, "-c", script, url, str(ROOT)], cwd=ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for _ in range(processes)]
    try:
        for racer in racers:  # every one imported and connected-ready before any is told to go
            assert racer.stdout.readline().strip() == "ready", racer.stderr.read()
        for racer in racers:
            racer.stdin.write("go\n")
            racer.stdin.flush()
        outcomes = [racer.communicate(timeout=60) for racer in racers]
    finally:
        for racer in racers:
            racer.kill()
    return [(racer.returncode, out, err) for racer, (out, err) in zip(racers, outcomes, strict=True)]
