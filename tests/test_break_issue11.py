"""Attacks on issue 11's promises (migrations, the generator's hand-written tasks, reference lists, typed
tasks, the credentials Block, `make migrate`), each against the real thing: SQLite files, a PostgreSQL
server, the sandbox over HTTP, a Prefect API, the Makefile run by make.

A test marked xfail(strict=True) states the correct behaviour of a bug found here (see its reason);
every other test is an attack that held.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from flows.migrate import main as migrate_main
from flows.migrations import VERSION_TABLE, _exclusive, alembic_config, head_revisions, upgrade_schema
from flows.store import contracts, dead_letters, engine_for, metadata, upsert, utcnow
from tests.support.databases import new_database
from tests.support.migrations import all_rows, connected, load_snapshot, schema_differences, versions
from tests.support.paths import DATABASES

ROOT = Path(__file__).resolve().parents[1]  # the repository


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
    from flows.migrations import upgrade_schema
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
    racers = [subprocess.Popen([sys.executable, "-c", RACER, url, str(ROOT)], cwd=ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for _ in range(2)]
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
    assert all(racer.returncode == 0 for racer in racers), [err for _out, err in outcomes]
    befores = sorted(json.loads(out) for out, _err in outcomes)
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


@pytest.mark.skipif("postgresql" not in DATABASES, reason="PostgreSQL is not installed")
def test_the_command_never_prints_a_password_given_in_the_query(postgres_server_url, capsys):
    url = new_database(postgres_server_url) + "?password=s3cret-in-query"  # trust auth: any password works
    assert migrate_main([url]) == 0
    assert migrate_main(["current", url]) == 0
    out = capsys.readouterr()
    assert "upgraded from" in out.out and "s3cret-in-query" not in out.out + out.err


def test_a_database_that_cannot_be_reached_fails_clearly_without_its_password(tmp_path, capsys):
    unreachable = "postgresql+psycopg://someone:s3cret-user@127.0.0.1:1/sync"
    with pytest.raises(sa.exc.OperationalError, match="Connection refused") as raised:
        engine_for(unreachable)
    assert "s3cret" not in str(raised.value)
    with pytest.raises(sa.exc.OperationalError, match="unable to open database file"):
        engine_for(f"sqlite:///{tmp_path}/no/such/dir/x.db")
    assert migrate_main([unreachable]) == 1 and migrate_main(["current", unreachable]) == 1
    err = capsys.readouterr().err
    assert err.count("error: (psycopg.OperationalError) connection failed") == 2
    assert "s3cret" not in err and "Traceback" not in err


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


# ------------------------------------------------------------------------------- make migrate, as written
@pytest.fixture
def make_migrate(tmp_path):
    """Runs `make migrate` with the Makefile's own recipe; uv is a stand-in that prints the argv and the
    DATABASE_URL it got (the recipe hands the URL over in the environment, never on a command line)."""
    fake_uv = tmp_path / "uv"
    fake_uv.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                       "print('GOT ' + json.dumps([sys.argv[1:], os.environ.get('DATABASE_URL')]))\n")
    fake_uv.chmod(fake_uv.stat().st_mode | stat.S_IEXEC)

    def run(database_url: str) -> tuple[subprocess.CompletedProcess, list[str], str | None]:
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "DATABASE_URL")}
        done = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.synced", "migrate", f"UV={fake_uv}",
                               f"DATABASE_URL={database_url}"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
        got = [json.loads(line[4:]) for line in done.stdout.splitlines() if line.startswith("GOT ")]
        return (done, *got[0]) if got else (done, [], None)

    return run


def test_make_migrate_runs_flows_migrate_with_the_url(make_migrate):
    done, argv, url = make_migrate("sqlite:///spotdraft-elsewhere.db")
    assert done.returncode == 0, done.stderr
    assert argv == ["run", "--frozen", "--no-sync", "python", "-m", "flows.migrate"]
    assert url == "sqlite:///spotdraft-elsewhere.db"


def test_make_migrate_does_not_echo_the_password(make_migrate):
    done, _argv, url = make_migrate("postgresql+psycopg://sync:s3cret-make@db.example/sync")
    assert url.endswith("@db.example/sync")
    assert "s3cret-make" not in done.stdout.replace(json.dumps(url), "") + done.stderr


@pytest.mark.parametrize("given, database_url", [
    ("sqlite:////srv/Application Support/spotdraft.db", "sqlite:////srv/Application Support/spotdraft.db"),
    ("postgresql+psycopg://sync@db.example/sync?sslmode=require&options=-csearch_path%3Dsync",
     "postgresql+psycopg://sync@db.example/sync?sslmode=require&options=-csearch_path%3Dsync"),
    ("sqlite:////srv/$$backup/spotdraft.db", "sqlite:////srv/$backup/spotdraft.db"),  # make's own escape of $
], ids=["space", "ampersand", "dollar"])
def test_make_migrate_hands_the_url_over_unchanged(make_migrate, given, database_url):
    _done, _argv, url = make_migrate(given)
    assert url == database_url


def test_the_command_reads_the_url_from_the_environment(tmp_path):
    from flows.migrate import main

    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        assert main([]) == 0
    assert (tmp_path / "from-env.db").exists()


# ------------------------------------------------------------------------------ generator: hand-written
@pytest.fixture(scope="module")
def generator():
    from tests.support.paths import require_spec
    from tools import generate_catalog

    spec = generate_catalog.load_spec(require_spec())
    return generate_catalog, spec


def handwritten_dir(tmp_path: Path, source: str, family: str = "templates") -> Path:
    directory = tmp_path / "_handwritten"
    directory.mkdir()
    (directory / f"{family}.py").write_text(textwrap.dedent(source))
    return directory


def test_a_hand_written_module_with_a_syntax_error_stops_the_generator_naming_file_and_line(tmp_path, generator):
    gen, _spec = generator
    directory = handwritten_dir(tmp_path, """
        from tasks._base import spotdraft_task

        @spotdraft_task("list_templates")
        def list_templates(credentials:
    """)
    with pytest.raises(SyntaxError) as raised:
        gen.read_handwritten(directory)
    assert raised.value.filename.endswith("_handwritten/templates.py") and raised.value.lineno == 5


def test_a_hand_written_task_under_an_aliased_decorator_is_seen_or_refused(tmp_path, generator):
    gen, _spec = generator
    directory = handwritten_dir(tmp_path, """
        from tasks._base import spotdraft_task as operation_task

        @operation_task("list_templates")
        def list_templates(credentials):
            ...
    """)
    try:
        found = gen.read_handwritten(directory)
    except SystemExit:
        return  # refusing it is as good as seeing it
    assert "list_templates" in found


def test_a_hand_written_task_in_another_familys_module_stops_the_generator(tmp_path, generator):
    gen, spec = generator
    directory = handwritten_dir(tmp_path, """
        from tasks._base import spotdraft_task

        @spotdraft_task("list_counterparties")
        def list_counterparties(credentials):
            ...
    """)
    ops, _models = gen.build(spec)
    with pytest.raises(SystemExit, match=r"templates.py:5: hand-written task 'list_counterparties' belongs in "
                                         r"tasks/_handwritten/counterparties.py"):
        gen.check_handwritten(ops, gen.read_handwritten(directory))


def test_a_spec_without_an_operation_that_has_a_hand_written_task_stops_before_writing(generator):
    gen, spec = generator
    smaller = copy.deepcopy(spec)
    del smaller["paths"]["/api/v2.1/public/templates/"]["get"]
    before = (ROOT / "tasks" / "templates.py").read_text()
    with pytest.raises(SystemExit, match=r"NAMES lists operations the spec no longer has: .*templates_list"):
        gen.render(smaller)
    assert (ROOT / "tasks" / "templates.py").read_text() == before


# ------------------------------------------------------------------------------ reference lists (Prefect)
def copy_reference_list(credentials, database_url: str, table: str, limit: int) -> dict:
    """sync_reference_list run as the sync runs it: a task in a flow, on a real Prefect API."""
    from prefect import flow

    from flows.sync import sync_reference_list

    @flow(name="break-issue11-reference")
    def copy() -> dict:
        state = sync_reference_list(credentials, database_url, table, limit, return_state=True)
        return {"failed": state.is_failed(), "counts": None if state.is_failed() else list(state.result())}

    return copy()


def letters(url: str) -> list[str]:
    with connected(url) as conn:
        return [row[0] for row in conn.execute(sa.select(dead_letters.c.operation))]


@pytest.mark.usefixtures("prefect_api")
def test_a_templates_answer_without_its_items_is_not_taken_for_no_templates(sandbox, credentials, tmp_path):
    url = f"sqlite:///{tmp_path / 'ref.db'}"
    sandbox.script("GET", r"/templates/$", 200, body={"results": [{"id": 1, "name": "NDA"}]}, times=10)
    outcome = copy_reference_list(credentials, url, "templates", 100)
    assert outcome["failed"] or outcome["counts"][1] >= 1 or letters(url)


@pytest.mark.usefixtures("prefect_api")
def test_reference_rows_without_a_name_or_repeated_across_pages_are_stored_once_each(sandbox, credentials, tmp_path):
    url = f"sqlite:///{tmp_path / 'ref.db'}"
    sandbox.script("GET", r"/templates/$", 200, body={"items": [{"id": 901, "contract_type_id": 3}]})
    assert copy_reference_list(credentials, url, "templates", 100) == {"failed": False, "counts": [1, 0]}

    first = credentials.get_client().call("list_counterparties", query={"page": 1, "limit": 2})["results"]
    again = [{**first[0], "name": "renamed on page 2"}, first[1]]  # the list shifted: page 2 repeats page 1
    sandbox.script("GET", r"/counter_parties/$", 200, query_regex=r"(^|&)page=2(&|$)",
                   body={"page": 2, "limit": 2, "total_results": 5, "results": again})
    outcome = copy_reference_list(credentials, url, "counterparties", 2)
    assert outcome["failed"] is False and outcome["counts"][1] == 0
    with connected(url) as conn:
        templates = conn.exec_driver_sql("SELECT id, name, contract_type_id FROM templates").all()
        parties = dict(conn.exec_driver_sql("SELECT id, name FROM counterparties").all())
    assert templates == [("901", None, 3)]
    assert len(parties) == 3 and parties[str(first[0]["id"])] == "renamed on page 2"  # the later page wins
    assert letters(url) == []


# ------------------------------------------------------------------------------ typed tasks at runtime
def test_with_options_keeps_what_every_spotdraft_task_shares():
    from prefect.cache_policies import NO_CACHE

    from tasks import get_contract_status
    from tasks._base import transient_only

    changed = get_contract_status.with_options(retries=1, timeout_seconds=30)
    assert changed.retries == 1 and changed.timeout_seconds == 30
    assert changed.retry_condition_fn is transient_only and changed.task_run_name is get_contract_status.task_run_name
    assert changed.tags == get_contract_status.tags and "spotdraft" in changed.tags
    assert changed.cache_policy is NO_CACHE and changed.persist_result is False
    assert changed.task_run_name({"composite_id": "T-12"}) == "get_contract_status T-12"


@pytest.mark.usefixtures("prefect_api")
def test_map_and_submit_under_a_flow_name_and_tag_each_run(sandbox, credentials):
    from prefect import flow, unmapped
    from prefect.client.orchestration import get_client

    from flows.common import composite_id_of
    from tasks import get_contract_status, list_contracts

    @flow(name="break-issue11-typed")
    def statuses() -> list:
        page = list_contracts.submit(credentials, page=1, limit=3).result()
        ids = [composite_id_of(record) for record in page["results"]]
        futures = get_contract_status.with_options(retries=0).map(unmapped(credentials), ids)
        return [(future.task_run_id, composite_id, future.result()) for future, composite_id in zip(futures, ids,
                                                                                                 strict=True)]

    results = statuses()
    assert len(results) == 3
    with get_client(sync_client=True) as client:
        for run_id, composite_id, answer in results:
            run = client.read_task_run(run_id)
            assert run.name == f"get_contract_status {composite_id}" and "spotdraft" in run.tags
            assert isinstance(answer, dict) and answer


# ------------------------------------------------------------------------------ the credentials Block
def block_description(block: type) -> dict:
    """What Prefect registers for a Block class: its schema (checksum, fields, capabilities) and block type."""
    import uuid

    schema = block._to_block_schema(block_type_id=uuid.UUID(int=0))
    block_type = block._to_block_type()
    return json.loads(json.dumps({
        "checksum": schema.checksum, "capabilities": sorted(schema.capabilities), "fields": schema.fields,
        "version": schema.version, "slug": block_type.slug, "name": block_type.name,
        "code_example": block_type.code_example, "description": block_type.description,
        "logo_url": block_type.logo_url, "documentation_url": block_type.documentation_url,
    }, sort_keys=True, default=str))


# The release's class, imported under its own module name in a process of its own (imported here, it would
# replace ours in Prefect's registry of Block types for the rest of the session).
BLOCK_OF_RELEASE = textwrap.dedent("""
    import importlib.util, json, sys
    from tests.test_break_issue11 import block_description
    spec = importlib.util.spec_from_file_location("released_credentials", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    block = module.SpotDraftCredentials
    block(client_id="released", client_secret="s3cret-released", region="EU",
          user_email="ops@example.com").save(sys.argv[2], overwrite=True)
    print(json.dumps(block_description(block)))
""")


@pytest.mark.usefixtures("prefect_api")
def test_the_block_is_the_previous_releases_and_loads_a_document_it_saved(tmp_path):
    """57fd4b1 made SpotDraftCredentials a CredentialsBlock: its parent is the release before it."""
    import prefect.settings

    from blocks import SpotDraftCredentials

    released = tmp_path / "released_credentials.py"
    released.write_text(subprocess.run(["git", "show", "57fd4b1^:blocks/credentials.py"], cwd=ROOT, check=True,
                                       capture_output=True, text=True).stdout)
    env = {**os.environ, "PREFECT_API_URL": str(prefect.settings.PREFECT_API_URL.value()), "PYTHONPATH": str(ROOT)}
    env.pop("SPOTDRAFT_BLOCK_LOGO_URL", None)
    old = subprocess.run([sys.executable, "-W", "ignore", "-c", BLOCK_OF_RELEASE, str(released), "saved-by-release"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert old.returncode == 0, old.stderr
    assert block_description(SpotDraftCredentials) == json.loads(old.stdout.splitlines()[-1])

    loaded = SpotDraftCredentials.load("saved-by-release")
    assert type(loaded) is SpotDraftCredentials
    assert (loaded.client_id, loaded.client_secret.get_secret_value(), loaded.region.value, loaded.user_email) == (
        "released", "s3cret-released", "EU", "ops@example.com")
