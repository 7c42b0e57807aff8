"""An analytics table is swapped in whole or not at all: a reader polling while a sync runs sees the previous
snapshot or the new one, never a mix; a process killed mid-table leaves the previous snapshot as it was; and a
table read in many small pages, keyset or ordered, holds exactly what the API answers for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from client.analytics_catalog import ALLOWLISTED, TABLES
from client.analytics_reading import SourceChanged, TableReader
from flows import sync_analytics
from sandbox import Sandbox
from store import ANALYTICS_TABLES, engine_for, utcnow
from store.analytics_swap import loading, snapshot_of
from store.analytics_values import typed_rows
from tests.support.analytics import analytics_requests, snapshots, stored_count
from tests.support.paths import ROOT
from tests.support.sandboxes import credentials_for

pytestmark = pytest.mark.usefixtures("prefect_api")


def _reader(database_url: str):
    """A connection whose every transaction sees one snapshot of the database (both databases' MVCC)."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")

        def begin(conn):
            conn.exec_driver_sql("BEGIN")  # pysqlite would not open a read transaction by itself
            return lambda: conn.exec_driver_sql("COMMIT")
    else:
        engine = sa.create_engine(database_url, isolation_level="REPEATABLE READ")

        def begin(conn):
            conn.begin()
            return conn.rollback
    return engine, begin


def test_a_concurrent_reader_sees_the_previous_snapshot_or_the_new_one_never_a_mix(database_url):
    with Sandbox(contracts=1500, seed=4) as sb:
        credentials = credentials_for(sb)
        sync_analytics(credentials, database_url=database_url, tables=["contracts"])
        sb.add_contracts(300)
        engine, begin = _reader(database_url)
        seen: Counter[tuple[int, int]] = Counter()
        done = threading.Event()

        def poll() -> None:
            with engine.connect() as conn:
                while not done.is_set():
                    end = begin(conn)
                    count = conn.execute(sa.select(sa.func.count()).select_from(ANALYTICS_TABLES["contracts"]))
                    rows = count.scalar_one()
                    recorded = conn.exec_driver_sql(
                        "SELECT row_count FROM analytics_snapshots WHERE table_name = 'contracts'").scalar_one()
                    end()
                    seen[(rows, recorded)] += 1
                    time.sleep(0.005)  # leave the flow, in this process, the interpreter most of the time

        reader = threading.Thread(target=poll)
        reader.start()
        try:
            state = sync_analytics(credentials, database_url=database_url, tables=["contracts"], page_rows=150,
                                   return_state=True)
        finally:
            done.set()
            reader.join(30)
        engine.dispose()
        assert state.result()["tables"]["contracts"]["pages"] == 13  # 1,800 rows, 150 a page, then an empty one
        assert set(seen) == {(1500, 1500), (1800, 1800)}, seen
        assert seen[(1500, 1500)] > 5  # polled all along the load, not only before and after it


def _swap(engine, table, rows: list[dict], errors: list[Exception]) -> None:
    try:
        with loading(engine, table) as load:
            load.add(rows)
            load.swap(taken_at=utcnow(), pages=1, paging="keyset on id", user_scoped=None, flow_run_id=None)
    except Exception as error:  # the thread's failure, for the test to see
        errors.append(error)


def _wait_for_lock_waits(engine, count: int, errors: list[Exception]) -> None:
    """Until `count` sessions wait on a lock; a swap thread that failed meanwhile fails the test with its error
    (it would never wait). 60 s: a loaded 2-core CI machine once took more than 30."""
    deadline = time.monotonic() + 60
    with engine.connect() as conn:
        while conn.exec_driver_sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND datname = current_database()").scalar_one() < count:
            assert not errors, f"a swap failed before it waited on the lock: {errors!r}"
            assert time.monotonic() < deadline, f"fewer than {count} sessions ever waited on a lock"
            time.sleep(0.05)


def test_two_swaps_of_one_table_at_once_leave_one_snapshot_not_both(postgres_server_url):
    """Two runs swapping the same table at once (a daily run and one started by hand) on PostgreSQL: the second
    swap's DELETE, begun while the first was uncommitted, waited for it and then did not see its rows (READ
    COMMITTED takes the statement's snapshot before it waits), so both snapshots' rows stayed, each row twice.
    A session holding analytics_snapshots makes the two swaps overlap every time. (SQLite has one writer at a
    time, and a write transaction waits for it before it reads.)"""
    from tests.support.databases import new_database

    engine = engine_for(new_database(postgres_server_url))
    table, errors = ANALYTICS_TABLES["users"], []
    _swap(engine, table, [{"id": 100}, {"id": 101}], errors)  # the previous snapshot
    swaps = [threading.Thread(target=_swap, args=(engine, table, [{"id": i} for i in range(5)], errors))
             for _ in range(2)]
    with engine.connect() as blocker:
        blocker.exec_driver_sql("LOCK TABLE analytics_snapshots IN ACCESS EXCLUSIVE MODE")
        for waiting, swap in enumerate(swaps, start=1):
            swap.start()
            _wait_for_lock_waits(engine, waiting, errors)  # the first on analytics_snapshots, the second on the first
        blocker.rollback()
    for swap in swaps:
        swap.join(60)
    assert errors == []
    with engine.connect() as conn:
        ids = sorted(conn.execute(sa.select(table.c.id)).scalars())
    assert ids == list(range(5)) and snapshot_of(engine, "users")["row_count"] == 5


# The load as the task does it (flows/analytics_table.py), without Prefect: read, type, stage, swap.
KILLED_LOAD = """
import os, sys
from client import SpotDraftClient
from client.analytics_catalog import TABLES
from client.analytics_reading import TableReader
from store import ANALYTICS_TABLES, engine_for, utcnow
from store.analytics_swap import loading
from store.analytics_values import typed_rows

client = SpotDraftClient(os.environ["SB_ID"], os.environ["SB_SECRET"], base_url=os.environ["SB_URL"])
engine = engine_for(sys.argv[1])
reader = TableReader(client, TABLES["contracts"], None, page_rows=100)
print("ready", flush=True)
with loading(engine, ANALYTICS_TABLES["contracts"]) as load:
    for page in reader.pages():
        load.add(typed_rows(TABLES["contracts"], page)[0])
    load.swap(taken_at=utcnow(), pages=reader.pages_read, paging=reader.paging, user_scoped=None, flow_run_id=None)
print("swapped", flush=True)
"""


def test_a_process_killed_mid_table_leaves_the_previous_snapshot_whole_and_the_next_run_completes(database_url):
    with Sandbox(contracts=1500, seed=4) as sb:
        credentials = credentials_for(sb)
        sync_analytics(credentials, database_url=database_url, tables=["contracts"])
        before = snapshots(database_url)["contracts"]
        sb.add_contracts(200)
        sb.set_faults(p_latency=1.0, latency_ms=100)  # time to kill it between two pages
        sb.reset_log()
        env = {**os.environ, "SB_ID": sb.client_id, "SB_SECRET": sb.client_secret, "SB_URL": sb.base_url}
        load = subprocess.Popen([sys.executable, "-c", KILLED_LOAD, database_url], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert load.stdout.readline().strip() == "ready", load.stderr.read()
            deadline = time.monotonic() + 60
            while len([r for r in analytics_requests(sb) if r.status == 200]) < 5:  # the count and 4 pages
                assert load.poll() is None and time.monotonic() < deadline, load.stderr.read()
                time.sleep(0.02)
            load.send_signal(signal.SIGKILL)
            load.wait(30)
        finally:
            load.kill()
        assert load.returncode == -signal.SIGKILL
        assert 5 <= len(analytics_requests(sb)) < 18  # killed mid-table: 1,700 rows are 18 pages and 2 counts

        assert snapshots(database_url)["contracts"] == before
        assert stored_count(database_url, "contracts") == 1500
        sb.set_faults(p_latency=0.0)
        state = sync_analytics(credentials, database_url=database_url, tables=["contracts"], return_state=True)
        assert state.name == "Completed" and stored_count(database_url, "contracts") == 1700


def test_an_ordered_read_the_table_changed_under_is_not_taken_as_whole():
    """A table without a usable key is read in pages ordered by every column, LIMIT and OFFSET. A row whose values
    change between two pages moves in that order: rows shift across the page boundaries, one is read twice and
    another never, and the counts before and after (the same) cannot tell."""
    with Sandbox(contracts=40, seed=2) as sb:
        ids = [c["id"] for c in sb.snapshot()]
        sb.set_analytics_value("contracts", ids[1], "contract_id", ids[0])  # a key seen twice: ordered paging
        client = credentials_for(sb).get_client()
        reader = TableReader(client, TABLES["contracts"], None, page_rows=10)
        pages = reader.pages()
        first = next(pages)
        assert reader.paging == "ordered by every column" and len(first) == 10
        sb.set_analytics_value("contracts", ids[35], "contract_id", ids[0] - 5)  # a row not read yet moves first
        with pytest.raises(SourceChanged, match="changed while it was read"):
            for _ in pages:
                pass

        # Read again with nothing changing meanwhile, the table comes whole: each row once.
        reader = TableReader(client, TABLES["contracts"], None, page_rows=10)
        read = Counter(row["contract_id"] for page in reader.pages() for row in page)
        assert read == Counter([ids[0], ids[0], ids[0] - 5, *ids[2:35], *ids[36:]])


def _canonical(rows: list[dict]) -> Counter:
    return Counter(tuple(sorted(row.items())) for row in rows)


def test_small_pages_keyset_and_ordered_hold_exactly_what_the_api_answers(database_url):
    with Sandbox(contracts=30, seed=9) as sb:
        credentials = credentials_for(sb)
        state = sync_analytics(credentials, database_url=database_url, page_rows=8, return_state=True)
        summary = state.result()
        assert state.name == "Completed"
        assert summary["tables"]["workflows_setup"]["paging"] == "ordered by every column"
        assert summary["tables"]["workflows_setup"]["pages"] == 2  # 14 rows, 8 a page
        assert summary["tables"]["contracts"]["pages"] == 4  # 30 rows: 3 full pages, then one of 6
        client = credentials.get_client()
        with engine_for(database_url).connect() as conn:
            for table in ALLOWLISTED:
                answer = client.call("run_analytics_query", body={"query": f"SELECT * FROM `{table}`"})
                expected, _ = typed_rows(TABLES[table], answer["rows"])
                stored = [dict(r._mapping) for r in conn.execute(sa.select(ANALYTICS_TABLES[table]))]
                if sa.engine.make_url(database_url).get_backend_name() == "sqlite":  # SQLite keeps no time zone
                    expected = [{k: v.replace(tzinfo=None) if hasattr(v, "tzinfo") and v.tzinfo else v
                                 for k, v in row.items()} for row in expected]
                assert _canonical(stored) == _canonical(expected), table
