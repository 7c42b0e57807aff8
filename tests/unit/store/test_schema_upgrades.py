"""Schema upgrades of existing databases, against SQLite files and a PostgreSQL server: old databases
adopted keeping every row and the user's own tables, read-only files and long readers, two processes
adopting at once, a schema chosen by search_path, and the SQL the command prints.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from store import contracts, dead_letters, engine_for, metadata, upsert, utcnow
from store.migrate import main as migrate_main
from store.migrations import VERSION_TABLE, _exclusive, alembic_config, head_revisions, upgrade_schema
from tests.support.databases import new_database
from tests.support.migrations import all_rows, connected, load_snapshot, race, schema_differences, versions
from tests.support.paths import DATABASES


def table_names(url: str, schema: str | None = None) -> set[str]:
    with connected(url) as conn:
        return set(sa.inspect(conn).get_table_names(schema=schema))


# ------------------------------------------------------------------------------------------ migrations
def test_a_database_at_0001_with_rows_is_upgraded_to_head_keeping_every_row(database_url):
    engine = sa.create_engine(database_url)
    with _exclusive(engine) as conn:
        command.upgrade(alembic_config(conn), "0001")
    with engine.begin() as conn:
        upsert(conn, contracts, [{"id": "7", "contract_name": "kept", "record": {"id": 7}, "synced_at": utcnow()}])
        conn.execute(dead_letters.insert().values(operation="op", inputs={}, error_class="E", error_message="m",
                                                  attempts=1, created_at=utcnow(), status="pending"))
    before = all_rows(database_url)

    assert upgrade_schema(engine) == (("0001",), head_revisions())

    after = all_rows(database_url)
    # Every row kept with every value it had; columns added since are new keys, not changes.
    assert {t: {k: {c: row[c] for c in before[t][k]} for k, row in rows.items()}
            for t, rows in after.items() if t in before} == before
    assert schema_differences(database_url) == [] and versions(database_url) == list(head_revisions())
    engine.dispose()


def test_user_tables_views_and_columns_survive_the_adoption_of_an_old_database(database_url):
    load_snapshot(database_url, "before_migrations")
    with connected(database_url) as conn:
        conn.exec_driver_sql("CREATE TABLE my_notes (id INTEGER PRIMARY KEY, note TEXT)")
        conn.exec_driver_sql("INSERT INTO my_notes VALUES (1, 'mine')")
        conn.exec_driver_sql("ALTER TABLE contracts ADD COLUMN my_owner TEXT")
        conn.exec_driver_sql("UPDATE contracts SET my_owner = 'ann'")
        conn.exec_driver_sql("CREATE VIEW my_live AS SELECT id, my_owner FROM contracts WHERE deleted_at IS NULL")
        conn.commit()
        live = conn.exec_driver_sql("SELECT id, my_owner FROM my_live ORDER BY id").all()
    assert live

    engine = engine_for(database_url)
    with engine.begin() as conn:  # the sync's own upsert leaves the user's column alone
        key = live[0][0]
        upsert(conn, contracts, [{"id": key, "contract_name": "renamed", "record": {}, "synced_at": utcnow()}])
    with connected(database_url) as conn:
        assert conn.exec_driver_sql("SELECT id, my_owner FROM my_live ORDER BY id").all() == live
        assert conn.exec_driver_sql("SELECT note FROM my_notes").all() == [("mine",)]
    assert versions(database_url) == list(head_revisions())


def test_a_version_table_that_exists_but_is_empty_is_adopted(database_url):
    load_snapshot(database_url, "first_release")
    with connected(database_url) as conn:
        conn.exec_driver_sql(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.commit()
    engine = sa.create_engine(database_url)
    assert upgrade_schema(engine) == ((), head_revisions())
    engine.dispose()
    assert schema_differences(database_url) == [] and versions(database_url) == list(head_revisions())


@pytest.fixture
def old_sqlite(tmp_path) -> Path:
    path = tmp_path / "old.db"
    load_snapshot(f"sqlite:///{path}", "first_release")
    return path


def test_a_read_only_sqlite_file_fails_clearly_and_is_left_as_it_was(old_sqlite):
    before = old_sqlite.read_bytes()
    with pytest.raises(sa.exc.OperationalError, match="readonly database"):
        engine_for(f"sqlite:///file:{old_sqlite}?mode=ro&uri=true")
    assert old_sqlite.read_bytes() == before


def test_a_long_reader_makes_the_upgrade_fail_whole_and_a_retry_after_it_succeeds(old_sqlite):
    url = f"sqlite:///{old_sqlite}"
    reader = sqlite3.connect(old_sqlite, isolation_level=None)  # rollback journal: a reader blocks COMMIT
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM contracts").fetchall()
    engine = sa.create_engine(url, connect_args={"timeout": 0.3})
    try:
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            upgrade_schema(engine)
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    assert VERSION_TABLE not in table_names(url) and "contract_syncs" not in table_names(url)  # nothing half done
    assert upgrade_schema(engine) == ((), head_revisions())
    engine.dispose()


def test_in_wal_mode_a_long_reader_does_not_stop_the_flows_upgrade(old_sqlite):
    with contextlib.closing(sqlite3.connect(old_sqlite)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    reader = sqlite3.connect(old_sqlite, isolation_level=None)
    reader.execute("BEGIN")
    count = reader.execute("SELECT count(*) FROM contracts").fetchone()
    try:
        engine_for(f"sqlite:///{old_sqlite}")
        assert reader.execute("SELECT count(*) FROM contracts").fetchone() == count  # its snapshot stands
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    assert versions(f"sqlite:///{old_sqlite}") == list(head_revisions())


RACER = textwrap.dedent("""
    import json, sys, types
    import sqlalchemy as sa
    sys.modules["flows"] = types.ModuleType("flows")
    sys.modules["flows"].__path__ = [sys.argv[2] + "/flows"]
    from store.migrations import upgrade_schema
    engine = sa.create_engine(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(upgrade_schema(engine)[0]))
""")


@pytest.mark.skipif("postgresql" not in DATABASES, reason="PostgreSQL is not installed")
def test_two_processes_adopting_an_old_postgresql_database_at_once_adopt_it_once(postgres_server_url):
    url = new_database(postgres_server_url)
    load_snapshot(url, "first_release_columns_added")
    before = all_rows(url)
    outcomes = race(RACER, url)
    assert all(returncode == 0 for returncode, _out, _err in outcomes), [err for _code, _out, err in outcomes]
    befores = sorted(json.loads(out) for _code, out, _err in outcomes)
    assert befores == [[], list(head_revisions())]
    after = all_rows(url)
    assert all(set(after[table]) == set(rows) for table, rows in before.items())
    assert schema_differences(url) == []


@pytest.mark.skipif("postgresql" not in DATABASES, reason="PostgreSQL is not installed")
def test_a_postgresql_schema_chosen_by_search_path_gets_the_tables_and_the_version(postgres_server_url):
    url = new_database(postgres_server_url)
    with connected(url) as conn:
        conn.exec_driver_sql("CREATE SCHEMA sync")
        conn.exec_driver_sql("CREATE TABLE public.contracts (someone_elses INTEGER)")  # not ours, not touched
        conn.commit()
    in_sync = url + "?options=-csearch_path%3Dsync"
    engine_for(in_sync)
    assert upgrade_schema(sa.create_engine(in_sync)) == (head_revisions(), head_revisions())
    assert {t.name for t in metadata.sorted_tables} | {VERSION_TABLE} == table_names(url, schema="sync")
    assert table_names(url, schema="public") == {"contracts"}


def test_the_printed_sql_builds_exactly_the_head_schema(database_url, capsys):
    assert migrate_main(["upgrade", "--sql", database_url]) == 0
    sql = capsys.readouterr().out
    if database_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(sa.engine.make_url(database_url).database)) as conn:
            conn.executescript(sql)
    else:
        import psycopg

        with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(sql)
    assert schema_differences(database_url) == [] and versions(database_url) == list(head_revisions())
    engine = sa.create_engine(database_url)
    assert upgrade_schema(engine) == (head_revisions(), head_revisions())
    engine.dispose()
