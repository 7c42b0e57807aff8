"""kill -9 at random points of real sync processes: the database still ends equal to the source.

Each run is a separate process syncing from a sandbox process (with latency, so a pass takes a few
seconds) into SQLite or PostgreSQL, reporting to a real local Prefect server. The kill point is
drawn per run from a seeded RNG: a page count to wait for (watched through the committed
checkpoint) plus a delay, so kills land before, between and inside page commits. Between runs the
source changes (contracts touched, added, and for full refreshes deleted).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from sandbox import Faults, SandboxProcess
from store import contracts, dead_letters, engine_for, sync_state
from tests.support.paths import ROOT


def start_runner(sb, database_url: str, prefect_env: dict, full: bool) -> subprocess.Popen:
    env = {**os.environ, **prefect_env, "SANDBOX_URL": sb.base_url, "SANDBOX_CLIENT_ID": sb.client_id,
           "SANDBOX_CLIENT_SECRET": sb.client_secret, "DATABASE_URL": database_url,
           "FULL_REFRESH": "1" if full else "0", "PREFECT_LOGGING_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "tests.support.sync_runner"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def checkpoint(database_url: str):
    with engine_for(database_url).connect() as conn:
        return conn.execute(sa.select(sync_state)).first()


def kill_at_random_point(process: subprocess.Popen, database_url: str, rng: random.Random) -> str:
    """Wait for a drawn number of committed pages (0 = don't wait), then a drawn delay, then SIGKILL."""
    pages, delay = rng.choice([0, 1, 2, 3, 5, 8]), rng.uniform(0, 0.6)
    deadline = time.monotonic() + 90
    while pages and time.monotonic() < deadline and process.poll() is None:
        row = checkpoint(database_url) if _tables_exist(database_url) else None
        if row is not None and row.pass_id and row.next_page > pages:
            break
        time.sleep(0.02)
    time.sleep(delay)
    if process.poll() is not None:
        return "finished before the kill"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    row = checkpoint(database_url) if _tables_exist(database_url) else None
    return f"killed at next_page={row.next_page if row else None} pass={'yes' if row and row.pass_id else 'no'}"


def _tables_exist(database_url: str) -> bool:
    return sa.inspect(engine_for(database_url)).has_table("sync_state")


def run_to_completion(sb, database_url, prefect_env, full=False) -> None:
    process = start_runner(sb, database_url, prefect_env, full)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()[-3000:]


def assert_equal_to_source(sb, database_url: str) -> None:
    source = {c["composite_id"]: c for c in sb.snapshot()}
    with engine_for(database_url).connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(contracts).where(contracts.c.deleted_at.is_(None)))}
        composite_ids = [r.composite_id for r in conn.execute(sa.select(contracts.c.composite_id))]
        letters = conn.execute(sa.select(sa.func.count()).select_from(dead_letters)).scalar_one()
    assert set(rows) == set(source), (set(rows) ^ set(source))
    for key, contract in source.items():
        assert (rows[key].contract_name, rows[key].contract_status) == (
            contract["contract_name"], contract["contract_status"])
        assert rows[key].key_pointers is not None
    assert len(composite_ids) == len(set(composite_ids))  # deleted rows are kept, nothing is stored twice
    assert letters == 0


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_minus_nine_at_random_points_loses_and_duplicates_nothing(kind, tmp_path, request, prefect_server_env):
    if kind == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'kills.db'}"
    else:
        from tests.support.databases import new_database

        database_url = new_database(request.getfixturevalue("postgres_server_url"))
    rng = random.Random(20261125)
    faults = Faults(p_latency=1.0, latency_ms=25)
    outcomes = []
    with SandboxProcess(contracts=500, seed=5, faults=faults) as sb:
        # Incremental passes (the first is a full one), killed, with the source changing in between.
        for round_ in range(4):
            process = start_runner(sb, database_url, prefect_server_env, full=False)
            outcomes.append(kill_at_random_point(process, database_url, rng))
            row = checkpoint(database_url) if _tables_exist(database_url) else None
            if row is not None and row.watermark is not None and row.pass_id:
                assert row.watermark <= row.pass_started_at  # never ahead of what is committed
            live = sb.snapshot()
            for contract in rng.sample(live, 5):
                sb.touch(contract["id"], name=f"{contract['contract_name']} (rev {round_})")
            sb.add_contracts(7)
        run_to_completion(sb, database_url, prefect_server_env)
        assert_equal_to_source(sb, database_url)

        # A full refresh, killed twice, with contracts deleted upstream meanwhile.
        for contract in rng.sample(sb.snapshot(), 6):
            sb.delete_contract(contract["id"])
        for _ in range(2):
            process = start_runner(sb, database_url, prefect_server_env, full=True)
            outcomes.append(kill_at_random_point(process, database_url, rng))
            sb.touch(rng.choice(sb.snapshot())["id"], status="EXECUTED")
        run_to_completion(sb, database_url, prefect_server_env, full=True)
        assert_equal_to_source(sb, database_url)
    print(f"\n{kind} kill points:", *outcomes, sep="\n  ")
    assert sum("killed at" in o and "pass=yes" in o for o in outcomes) >= 3, outcomes  # most kills landed mid-pass
