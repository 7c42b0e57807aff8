"""Schema migrations (store.migrations, flows.migrate) on real SQLite files and a real PostgreSQL server.

The databases "made by earlier releases" are SQL snapshots in tests/data/, written once by
tests/data/dump_schema_snapshots.py before Alembic came in: it reads flows/store.py as committed in
those releases (`git show a5da849:flows/store.py`, the last without Alembic, and 2d9bf7c, the first),
runs their own `metadata.create_all` (and, for first_release_columns_added, a5da849's
`_add_missing_columns` over the first release's database, as a deployment that updated would have),
writes a few rows in every table, and dumps SQLite with iterdump and PostgreSQL with pg_dump --inserts.
Each test loads a snapshot into an empty database, upgrades it with today's code and compares.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest
import sqlalchemy as sa

import store.migrations
from store import dead_letters, engine_for, metadata, record_leases, utcnow
from store.migrate import main as migrate_main
from store.migrations import VERSION_TABLE, SchemaTooNew, head_revisions, upgrade_schema
from tests.support.migrations import (
    all_rows,
    connected,
    dialect_of,
    load_snapshot,
    race,
    schema_differences,
    versions,
)
from tests.support.paths import ROOT

VARIANTS = ["before_migrations", "first_release", "first_release_columns_added"]


@pytest.fixture
def statements():
    """Every SQL statement any engine in this process sends while the test runs."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        sent.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


WRITES = re.compile(r"^\s*(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE|COMMENT|BEGIN)|pg_advisory", re.IGNORECASE)


def test_an_empty_database_gets_the_schema_and_a_second_upgrade_only_reads_the_version(database_url, statements):
    engine_for(database_url)
    assert versions(database_url) == list(head_revisions())
    assert schema_differences(database_url) == []

    statements.clear()
    engine = sa.create_engine(database_url)
    assert upgrade_schema(engine) == (head_revisions(), head_revisions())
    engine.dispose()
    assert statements and not [s for s in statements if WRITES.search(s)], statements
    assert len(statements) <= 4, statements  # the version table looked up and read (SQLite: and its pragmas)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_database_made_before_migrations_is_upgraded_in_place_with_every_row(database_url, variant):
    load_snapshot(database_url, variant)
    before = all_rows(database_url)
    assert sum(map(len, before.values())) >= 9  # the snapshot's rows are there to be lost

    engine = engine_for(database_url)

    after = all_rows(database_url)
    assert set(after) == {table.name for table in metadata.sorted_tables}
    for table, rows in before.items():
        assert set(after[table]) == set(rows), table
        for key, row in rows.items():
            added = {name: None for name in after[table][key] if name not in row}
            assert after[table][key] == {**row, **added}, (table, key)
    assert schema_differences(database_url) == []
    assert versions(database_url) == list(head_revisions())

    with engine.begin() as conn:  # the flows' own writes work, the id sequence goes on from the old rows
        conn.execute(record_leases.insert().values(key="create:x", holder="run", expires_at=utcnow()))
        new_id = conn.execute(dead_letters.insert().values(
            operation="op", inputs={}, error_class="E", error_message="m", attempts=1, created_at=utcnow(),
            status="pending", claimed_by="run").returning(dead_letters.c.id)).scalar_one()
    assert new_id == max(key[0] for key in before["dead_letters"]) + 1
    engine.dispose()


def test_a_table_not_made_by_us_stops_the_upgrade_and_nothing_is_written(database_url):
    with connected(database_url) as conn:
        conn.exec_driver_sql("CREATE TABLE contracts (id TEXT PRIMARY KEY, title TEXT)")
        conn.commit()

    with pytest.raises(RuntimeError, match="table contracts has no column record"):
        upgrade_schema(sa.create_engine(database_url))

    with connected(database_url) as conn:
        assert sa.inspect(conn).get_table_names() == ["contracts"]  # no other table, no version: rolled back


def test_a_database_a_newer_release_upgraded_fails_clearly_before_anything_is_written(database_url, capsys):
    upgrade_schema(sa.create_engine(database_url))
    with connected(database_url) as conn:
        conn.execute(sa.schema.DropTable(record_leases))  # what an upgrade would put back, if one ran
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
        conn.commit()

    with pytest.raises(SchemaTooNew, match=r"at revision 9999, which this release .* does not know .* newer release"):
        engine_for(database_url)
    assert migrate_main([database_url]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: the database's schema is at revision 9999") and "Traceback" not in error

    with connected(database_url) as conn:
        assert not sa.inspect(conn).has_table("record_leases")
    assert versions(database_url) == ["9999"]


# Each process waits for "go" after its imports, then upgrades; each CREATE TABLE takes 0.1 s longer,
# so the two overlap for sure. The storage layer imports no Prefect: each process starts fast.
RACER = """
import json, sys, time, types
import sqlalchemy as sa
from store.migrations import upgrade_schema

@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def slower(conn, cursor, statement, *args):
    if statement.lstrip().upper().startswith("CREATE TABLE"):
        time.sleep(0.1)

engine = sa.create_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
before, after = upgrade_schema(engine)
print(json.dumps({"before": before, "after": after}), flush=True)
"""


def test_two_processes_upgrading_at_once_both_succeed_and_it_is_migrated_once(database_url):
    outcomes = race(RACER, database_url)
    for returncode, _out, err in outcomes:
        assert returncode == 0, err
    results = sorted((json.loads(out) for _code, out, _err in outcomes), key=lambda result: result["before"])
    head = list(head_revisions())
    assert results == [{"before": [], "after": head}, {"before": head, "after": head}]
    assert versions(database_url) == head
    assert schema_differences(database_url) == []


def test_the_command_upgrades_by_hand_and_reports_from_and_to(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'spotdraft.db'}"
    load_snapshot(url, "first_release")

    done = subprocess.run([sys.executable, "-m", "flows.migrate", url], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    [head] = store.migrations.head_revisions()
    assert done.stdout == f"{url}: upgraded from no version (empty, or made before migrations) to {head}\n"
    assert schema_differences(url) == []

    assert migrate_main([url]) == 0
    assert migrate_main(["current", url]) == 0
    assert capsys.readouterr().out == f"{url}: already at {head}, nothing to do\n{url}: at {head} (up to date)\n"

    assert migrate_main(["upgrade", "--sql", "postgresql+psycopg://someone:s3cret@db.example/sync"]) == 0
    sql = capsys.readouterr().out
    assert "CREATE TABLE contracts" in sql and "COMMENT ON COLUMN dead_letters.claimed_by" in sql
    assert f"UPDATE {VERSION_TABLE} SET version_num='{head}'" in sql and "s3cret" not in sql


@pytest.fixture
def scratch_scripts(tmp_path, monkeypatch):
    """A copy of store/migrations for the revision command to write into, instead of the package."""
    location = tmp_path / "migrations"
    shutil.copytree(store.migrations.SCRIPT_LOCATION, location, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(store.migrations, "SCRIPT_LOCATION", location)
    store.migrations._scripts.cache_clear()
    yield location
    store.migrations._scripts.cache_clear()


def test_an_autogenerated_revision_is_numbered_next_and_empty_while_the_tables_match(scratch_scripts):
    [head] = store.migrations.head_revisions()
    assert migrate_main(["revision", "--autogenerate", "-m", "nothing yet"]) == 0

    following = f"{int(head) + 1:04d}"
    written = scratch_scripts / "versions" / f"{following}_nothing_yet.py"
    text = written.read_text()
    assert f'revision = "{following}"' in text.replace("'", '"')
    assert f'down_revision = "{head}"' in text.replace("'", '"')
    upgrade_body = text.split("def upgrade() -> None:")[1].split("def downgrade")[0]
    code = [line.strip() for line in upgrade_body.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert code == ["pass"], upgrade_body
    compile(text, str(written), "exec")


# ----------------------------------------------------------------- the command's failures: one line, no password
CANARY = "canary-pw-7Qx"  # the password in every URL below: it must never come out


def run_migrate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m flows.migrate ARGS` as a user runs it, with $DATABASE_URL unset unless given."""
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | (env or {})
    return subprocess.run([sys.executable, "-m", "flows.migrate", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)


def one_error_line(done: subprocess.CompletedProcess, returncode: int = 1) -> str:
    """The one line the command wrote on stderr, having checked that it wrote nothing else and no password."""
    assert CANARY not in done.stdout + done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == returncode, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.fixture
def read_only_sqlite(tmp_path) -> str:
    """A SQLite file this process may read but not write: chmod'ed read-only, and opened read-only
    (as root, which file modes do not stop)."""
    path = tmp_path / "read-only.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE someone_elses (x INTEGER)")  # not empty: not ours either, never touched
        conn.commit()
    path.chmod(0o444)
    return f"sqlite:///file:{path}?mode=ro&uri=true"


@pytest.mark.parametrize("command, url, expected", [
    ("upgrade", f"postgresql+psycopg://user:{CANARY}@127.0.0.1:notaport/db", r"port .*notaport.* not a number"),
    ("current", f"postgresql+psycopg://user:{CANARY}@127.0.0.1:notaport/db", r"port .*notaport.* not a number"),
    ("upgrade", f"mysql://user:{CANARY}@127.0.0.1/db", r"driver for mysql:// is not installed .*MySQLdb"),
    ("current", f"mysql://user:{CANARY}@127.0.0.1/db", r"driver for mysql:// is not installed .*MySQLdb"),
    ("upgrade", f"nosuchdb://user:{CANARY}@127.0.0.1/db", r"no database dialect or driver named 'nosuchdb'"),
    ("current", f"postgresql+nosuchdriver://user:{CANARY}@127.0.0.1/db",
     r"no database dialect or driver named 'postgresql\+nosuchdriver'"),
    ("current", f"postgresql+psycopg://user:{CANARY}@127.0.0.1:1/db",  # a closed port: refused at once
     r"^error: \(psycopg.OperationalError\) connection failed: .*Connection refused"),
    ("upgrade", "", r"the database URL is empty"),
    ("upgrade", f"user:{CANARY}@db.example/sync", r"not a SQLAlchemy URL"),
], ids=["bad-port", "bad-port-current", "missing-driver", "missing-driver-current", "unknown-dialect",
        "unknown-driver-current", "refused-current", "empty", "not-a-url"])
def test_a_url_the_command_cannot_use_gives_one_line_without_the_password(command, url, expected):
    line = one_error_line(run_migrate(command, url))
    assert re.search(expected, line), line


def test_a_sqlite_file_in_a_missing_directory_is_named_and_not_made(tmp_path):
    missing = tmp_path / "no" / "such"
    line = one_error_line(run_migrate("upgrade", f"sqlite:///{missing / 'spotdraft.db'}"))
    assert line == f"error: the directory of the SQLite database does not exist: {missing}"
    assert not missing.exists()


def test_a_read_only_sqlite_file_is_refused_in_one_line(read_only_sqlite):
    line = one_error_line(run_migrate("upgrade", read_only_sqlite))
    assert "read-only" in line and "read-only.db" in line, line
    done = run_migrate("current", read_only_sqlite)  # reading it is fine
    assert done.returncode == 0 and "no version" in done.stdout, done.stderr


def test_revision_without_a_message_says_so_in_one_line():
    line = one_error_line(run_migrate("revision"), returncode=2)
    assert "-m/--message" in line and "--help" in line, line


def test_make_migrate_with_an_unreachable_database_fails_in_one_line_without_the_password():
    """`make migrate` as a user runs it from a shell: outside any make (no MAKELEVEL, which `make test` sets
    and which turns make's own trailer into `make[1]: ***`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "DATABASE_URL")}
    done = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.synced", "migrate",
                           f"DATABASE_URL=postgresql+psycopg://user:{CANARY}@127.0.0.1:1/db"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert CANARY not in done.stdout + done.stderr and "Traceback" not in done.stderr, done.stderr
    ours = [line for line in done.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(ours) == 1 and "Connection refused" in ours[0], done.stderr


def test_current_on_a_database_a_newer_release_upgraded_says_so_as_upgrade_does(database_url):
    upgrade_schema(sa.create_engine(database_url))
    with connected(database_url) as conn:
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
        conn.commit()
    if dialect_of(database_url) == "postgresql":
        database_url += f"?password={CANARY}"  # trust auth: any password works, and none may be shown

    [head] = head_revisions()
    current = one_error_line(run_migrate("current", database_url))
    assert re.search(rf"revision 9999, .*newest is {head}\).*newer release upgraded it.*cannot use it", current)
    assert "run the upgrade" not in current
    assert one_error_line(run_migrate("upgrade", database_url)) == current
    assert versions(database_url.split("?")[0]) == ["9999"]
