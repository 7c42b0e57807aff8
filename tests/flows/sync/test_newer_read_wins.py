"""The newer read of a contract wins, whichever commits last: a full pass and a per-contract sync may
write one contract at the same time, a deletion is a read too, and "newer" is decided by the database's
clock, not by the clocks of the workers that read."""

from __future__ import annotations

import sys
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

import flows.sync_pages as sync_module
from flows import sync_contracts
from flows.common import composite_id_of
from flows.sync_contract import sync_contract
from store import contracts, dead_letters, engine_for, leases

pytestmark = pytest.mark.usefixtures("prefect_api")


def row_of(database_url: str, composite_id: str) -> sa.Row:
    with engine_for(database_url).connect() as conn:
        return conn.execute(sa.select(contracts).where(contracts.c.composite_id == composite_id)).one()


def letters(database_url: str) -> list[sa.Row]:
    with engine_for(database_url).connect() as conn:
        return conn.execute(sa.select(dead_letters).where(dead_letters.c.status == "pending")).all()


def fully_synced(sandbox, credentials, database_url: str, index: int) -> dict:
    """A full pass has stored every contract; returns the sandbox's contract at `index`, the test's target."""
    sync_contracts(credentials, database_url=database_url, reference_data=False)
    return sandbox.snapshot()[index]


def sync_one(credentials, contract_id, database_url: str) -> str:
    """The outcome of `sync_contract` for one contract, read at once (no settling)."""
    state = sync_contract(credentials, contract_id, database_url=database_url, settle_seconds=0, return_state=True)
    return state.result()["outcome"]


def in_own_thread(function, *args, **kwargs):
    """Call `function` to its end on another thread (a flow called there is a top-level run of its own, as a
    worker's would be) and return what it returned."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(function(*args, **kwargs)))
    thread.start()
    thread.join(timeout=120)
    assert out, f"{function.__name__} did not end"
    return out[0]


@pytest.fixture
def between_read_and_commit(monkeypatch):
    """`between_read_and_commit(composite_id, action)`: a full pass's page holding that contract has been
    read (its read time taken) but not written when `action` runs; then the page commits."""

    def arrange(composite_id: str, action) -> None:
        real = sync_module.store_contracts
        done = threading.Event()

        def store_after(conn, records, *args, **kwargs):
            if not done.is_set() and any(isinstance(r, dict) and composite_id_of(r) == composite_id for r in records):
                done.set()
                action()
            return real(conn, records, *args, **kwargs)

        monkeypatch.setattr(sync_module, "store_contracts", store_after)

    return arrange


def test_a_deletion_is_not_undone_by_an_older_page_committed_after_it(sandbox, credentials, database_url,
                                                                       between_read_and_commit):
    target = fully_synced(sandbox, credentials, database_url, 3)

    def delete_and_sync_it():  # SpotDraft deletes it; its webhook's run marks it deleted
        sandbox.delete_contract(target["id"])
        assert in_own_thread(sync_one, credentials, target["id"], database_url) == "marked deleted"

    between_read_and_commit(target["composite_id"], delete_and_sync_it)
    summary = sync_contracts(credentials, database_url=database_url, full_refresh=True, reference_data=False)

    assert row_of(database_url, target["composite_id"]).deleted_at is not None
    assert summary["contracts_in_database"] == 29
    assert letters(database_url) == []


def test_a_contract_a_newer_read_wrote_is_still_seen_by_the_full_pass(sandbox, credentials, database_url,
                                                                      between_read_and_commit):
    target = fully_synced(sandbox, credentials, database_url, 3)
    # Were the pass to take the contract for a deletion candidate, its status check gets a 403: a dead letter
    # for a live contract.
    sandbox.script("GET", rf"/contracts/{target['composite_id']}/status", 403, times=5)

    def change_and_sync_it():
        sandbox.touch(target["id"], name="Renamed while the pass ran")
        assert in_own_thread(sync_one, credentials, target["id"], database_url) == "stored"

    between_read_and_commit(target["composite_id"], change_and_sync_it)
    sandbox.reset_log()
    summary = sync_contracts(credentials, database_url=database_url, full_refresh=True, reference_data=False)

    row = row_of(database_url, target["composite_id"])
    assert (row.contract_name, row.deleted_at) == ("Renamed while the pass ran", None)  # the newer read's row
    assert summary["dead_lettered"] == 0 and letters(database_url) == []
    assert not [r for r in sandbox.requests if r.route.endswith("/status")]


# -- one clock for every worker -------------------------------------------------------------------------------


@pytest.fixture
def postgres_url(postgres_server_url):
    """Workers on several hosts share a server database: PostgreSQL (a SQLite file's clock is its host's)."""
    from store import dispose_engine
    from tests.support.databases import new_database

    url = new_database(postgres_server_url)
    yield url
    dispose_engine(url)


@pytest.fixture
def worker_clock(monkeypatch):
    """`worker_clock(minutes)`: this process's clock, as the flows and the store read it, moved by `minutes`."""
    import store.tables

    real = store.tables.utcnow

    def move(minutes: float) -> None:
        def skewed():
            return real() + timedelta(minutes=minutes)

        for name, module in list(sys.modules.items()):
            ours = name.split(".")[0] in ("flows", "store")
            if ours and getattr(module, "utcnow", None) is real:
                monkeypatch.setattr(module, "utcnow", skewed)

    return move


def test_a_worker_whose_clock_runs_behind_does_not_lose_its_newer_read(sandbox, credentials, postgres_url,
                                                                       worker_clock):
    target = fully_synced(sandbox, credentials, postgres_url, 5)
    sandbox.touch(target["id"], name="Changed after the full sync")

    worker_clock(-15)
    assert sync_one(credentials, target["id"], postgres_url) == "stored"
    assert row_of(postgres_url, target["composite_id"]).contract_name == "Changed after the full sync"


def test_a_worker_whose_clock_runs_ahead_does_not_take_a_live_lease(postgres_url, worker_clock):
    engine = engine_for(postgres_url)
    assert leases.acquire(engine, "create:x-1", "run-on-a-true-clock")
    worker_clock(leases.LEASE_SECONDS / 60 + 5)
    assert not leases.acquire(engine, "create:x-1", "run-on-a-clock-ahead")
