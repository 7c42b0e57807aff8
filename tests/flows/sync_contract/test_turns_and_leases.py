"""sync_contract's turns and leases: tickets and leases raced for, ids in every spelling sharing one turn, a
dead holder's lease lapsing, a run failing midway, a full sync running meanwhile, a wrong kind prefix,
and a run that outlived its lease. Against the sandbox over HTTP and real databases.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from flows import sync_contracts
from flows.sync_contract import COVERED, take_ticket
from store import contract_syncs, contracts, dead_letters, engine_for, leases, record_leases, utcnow
from tests.support.sync_contract_runs import run, wait

HOLD_S = 6  # how long the sandbox holds the answer that separates a read from its write


# ------------------------------------------------------------------------------------ sync_contract


def name_of(database_url: str, composite_id: str) -> str:
    with engine_for(database_url).connect() as conn:
        return conn.execute(sa.select(contracts.c.contract_name).where(contracts.c.composite_id == composite_id)
                            ).scalar_one()


def counters(database_url: str, key: str) -> tuple[int, int]:
    with engine_for(database_url).connect() as conn:
        row = conn.execute(sa.select(contract_syncs).where(contract_syncs.c.contract_id == key)).first()
    return (row.requested, row.covered) if row else (0, 0)


def in_thread(target, *args) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(target(*args)))
    thread.start()
    return thread, out


def test_tickets_and_leases_race_cleanly(database_url):
    """Eight runs asking at once for a contract never seen: tickets 1..8 once each; one lease holder."""
    engine = engine_for(database_url)
    barrier = threading.Barrier(8)

    def ticket(_):
        barrier.wait()
        return take_ticket(engine, "777")

    def lease(n):
        barrier.wait()
        return leases.acquire(engine, "sync-contract:777", f"run-{n}")

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(ticket, range(8))) == list(range(1, 9))
    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(lease, range(8))) == 1


@pytest.mark.usefixtures("prefect_api")
def test_ids_in_every_spelling_share_one_turn_and_a_dead_holders_lease_lapses(sandbox, credentials, sqlite_url):
    """A run that died holding the lease delays the others until it lapses, never forever; 1003, "1003",
    "T-1003" and "0001003" are one contract: one read, the rest Covered, the last change stored."""
    target = sandbox.snapshot()[3]
    assert target["composite_id"] == "T-1003"
    engine = engine_for(sqlite_url)
    assert leases.acquire(engine, "sync-contract:1003", "a run that crashed")
    runs = [in_thread(run, credentials, spelling, sqlite_url) for spelling in (1003, "1003", "T-1003", "0001003")]
    wait(lambda: counters(sqlite_url, "1003")[0] == 4)
    sandbox.touch("T-1003", name="Last change while the holder was dead")
    sandbox.reset_log()
    with engine.begin() as conn:  # its 15 minutes are up in one second (waiting that long is the design)
        conn.execute(record_leases.update().values(expires_at=utcnow() + timedelta(seconds=1)))
    for thread, _ in runs:
        thread.join(60)
    assert sorted(out[0].name for _, out in runs) == ["Completed"] + [COVERED] * 3
    assert len(sandbox.request_log("GET", "/api/v2.1/public/contracts/")) == 1
    assert name_of(sqlite_url, "T-1003") == "Last change while the holder was dead"
    assert counters(sqlite_url, "1003") == (4, 4)


@pytest.mark.usefixtures("prefect_api")
def test_a_run_failing_midway_loses_nothing_and_leaks_nothing(sandbox, credentials, sqlite_url, all_logs):
    """The list answers 404 to the first of two queued runs: that run fails with a dead letter, the other
    reads and stores the change and settles the letter; the client secret appears nowhere."""
    engine = engine_for(sqlite_url)
    assert leases.acquire(engine, "sync-contract:1004", "a run already syncing it")
    runs = [in_thread(run, credentials, 1004, sqlite_url) for _ in range(2)]
    wait(lambda: counters(sqlite_url, "1004")[0] == 2)
    sandbox.script("GET", r"^/api/v2\.1/public/contracts/$", 404, times=1,
                   body={"detail": f"no such list for {sandbox.client_secret}"})
    sandbox.touch("T-1004", name="Changed before the failing read")
    leases.release(engine, "sync-contract:1004", "a run already syncing it")
    for thread, _ in runs:
        thread.join(60)
    states = [out[0] for _, out in runs]
    assert sorted(s.type.value for s in states) == ["COMPLETED", "FAILED"]
    assert name_of(sqlite_url, "T-1004") == "Changed before the failing read"
    with engine.connect() as conn:
        letters = [dict(r._mapping) for r in conn.execute(sa.select(dead_letters))]
    assert [(r["operation"], r["status"]) for r in letters] == [("sync_contract", "replayed")]
    everything = all_logs.text + json.dumps(letters, default=str) + " ".join(str(s.message) for s in states)
    assert sandbox.client_secret not in everything


# ------------------------------------------------------------------------- sync_contract: leases and reads


@pytest.mark.usefixtures("prefect_api")
def test_a_full_sync_running_meanwhile_does_not_undo_the_last_change(sandbox, credentials, sqlite_url, monkeypatch):
    monkeypatch.setenv("SPOTDRAFT_TIMEOUT_READ", "20")
    sandbox.set_faults(timeout_sleep_s=HOLD_S)
    sandbox.script("GET", r"/T-1005/key_pointers$", "slow", times=1)  # the full sync's read of it, held
    full, _ = in_thread(lambda: sync_contracts(credentials, database_url=sqlite_url, reference_data=False))
    wait(lambda: not sandbox.app.injector.pending_script())  # its page is read, its write yet to come
    sandbox.touch("T-1005", name="The last change")
    assert run(credentials, 1005, sqlite_url).name == "Completed"
    assert name_of(sqlite_url, "T-1005") == "The last change"
    assert full.is_alive(), f"the full sync wrote within {HOLD_S} s: the interleaving was not reproduced"
    full.join(60)
    assert name_of(sqlite_url, "T-1005") == "The last change"


@pytest.mark.usefixtures("prefect_api")
def test_a_wrong_kind_prefix_never_covers_a_real_change(sandbox, credentials, sqlite_url):
    assert sandbox.snapshot()[1]["composite_id"] == "H-1001"
    assert run(credentials, 1001, sqlite_url).name == "Completed"
    wrong, _ = in_thread(run, credentials, "T-1001", sqlite_url, 1.5)  # e.g. typed by a person
    wait(lambda: counters(sqlite_url, "1001")[0] == 2)
    sandbox.touch("H-1001", name="Changed during the settle")
    webhook_run = run(credentials, 1001, sqlite_url)  # the delivery's run, given the integer id
    wrong.join(60)
    assert webhook_run.name == "Completed" or name_of(sqlite_url, "H-1001") == "Changed during the settle"


@pytest.mark.usefixtures("prefect_api")
def test_a_run_that_outlived_its_lease_does_not_write_over_a_newer_read(sandbox, credentials, sqlite_url,
                                                                       monkeypatch):
    # A run whose lease lapsed while it still worked: one frozen (a paused VM, a stopped process) cannot renew it.
    monkeypatch.setattr(importlib.import_module("flows.sync_contract"), "LEASE_SECONDS", 1)
    monkeypatch.setattr(leases, "kept", lambda *args: contextlib.nullcontext())
    monkeypatch.setenv("SPOTDRAFT_TIMEOUT_READ", "20")
    sandbox.set_faults(timeout_sleep_s=HOLD_S)
    assert run(credentials, 1006, sqlite_url).name == "Completed"
    sandbox.script("GET", r"/T-1006/key_pointers$", "slow", times=1)
    slow, _ = in_thread(run, credentials, 1006, sqlite_url)
    wait(lambda: not sandbox.app.injector.pending_script())  # the slow run has read the list: old data
    sandbox.touch("T-1006", name="Read by the run after the lease lapsed")
    assert run(credentials, 1006, sqlite_url).name == "Completed"
    assert slow.is_alive(), f"the slow run wrote within {HOLD_S} s: the interleaving was not reproduced"
    slow.join(60)
    assert name_of(sqlite_url, "T-1006") == "Read by the run after the lease lapsed"
