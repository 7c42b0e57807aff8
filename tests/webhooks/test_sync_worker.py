"""The sync worker: each contract the receiver stored a delivery for is synced once, as a sync_contract flow run in
the worker's process, tagged for the review; a burst for one contract is read once and the last change lands; a
SpotDraft failure is a dead letter and a failed run, and is not tried again for ever; two workers on one database
never sync a change twice.

In-process: the receiver under uvicorn with its sync worker, deliveries signed and POSTed over loopback, the
sandbox over HTTP, a real SQLite file and the real Prefect API of the `prefect_api` harness (the runs are read
back from it). The Prefect API failing, a server restart and a killed worker: tests/e2e/test_webhook_sync.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from store import dead_letters, engine_for
from tests.support.sync_contract_runs import wait
from tests.support.webhook_sinks import outbox_rows
from tests.support.webhook_sync import deliver, name_of, receiver, runs_since, settled
from webhooks.sync_worker import SyncWorker

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_each_stored_change_is_synced_by_one_run_tagged_for_the_review(sandbox, credentials, sqlite_url):
    began = datetime.now(UTC)
    worker = SyncWorker(sqlite_url, credentials=credentials, settle_seconds=0.3)
    with receiver(sqlite_url, worker) as url:
        for contract_id, composite in ((1000, "T-1000"), (1001, "H-1001"), (1002, "T-1002")):
            sandbox.touch(composite, name=f"Changed {contract_id}")
            deliver(url, contract_id)
        for composite in ("T-1000", "H-1001", "T-1002"):
            wait(lambda c=composite: name_of(sqlite_url, c) == f"Changed {c[2:]}", timeout=60)
        wait(lambda: settled(sqlite_url))
    runs = runs_since(began)
    assert sorted(runs) == ["1000", "1001", "1002"] and all(len(r) == 1 for r in runs.values()), runs
    for [run] in runs.values():
        assert {"spotdraft", "spotdraft-data"} <= set(run.tags) and run.state.is_completed()
    assert {row["outcome"] for row in outbox_rows(sqlite_url)} == {"synced"}


def test_a_burst_for_one_contract_is_read_once_and_the_last_change_lands(sandbox, credentials, sqlite_url):
    began = datetime.now(UTC)
    worker = SyncWorker(sqlite_url, credentials=credentials, settle_seconds=2.0)
    with receiver(sqlite_url, worker) as url:
        for n, activity in enumerate(("CONTRACT_SENT_TO_COUNTERPARTY", "CONTRACT_SIGNED", "CONTRACT_EXECUTED")):
            sandbox.touch("T-1004", name=f"Step {n}")
            deliver(url, 1004, activity)
        wait(lambda: name_of(sqlite_url, "T-1004") == "Step 2", timeout=60)
        wait(lambda: settled(sqlite_url))
    assert len(runs_since(began)["1004"]) == 1
    assert [row["ticket"] for row in outbox_rows(sqlite_url)] == [1, 2, 3]


def test_a_spotdraft_failure_is_a_dead_letter_and_a_failed_run_and_is_not_tried_again(sandbox, credentials,
                                                                                      sqlite_url):
    began = datetime.now(UTC)
    worker = SyncWorker(sqlite_url, credentials=credentials, settle_seconds=0.2)
    sandbox.script("GET", r"/api/v2.1/public/contracts/$", 403, times=1)
    with receiver(sqlite_url, worker) as url:
        deliver(url, 1005)
        wait(lambda: settled(sqlite_url), timeout=60)
        [row] = outbox_rows(sqlite_url)
        assert row["outcome"].startswith("failed (flow run ") and "review" in row["outcome"]
        time.sleep(3)  # many of the worker's rounds: none starts the contract again
        [run] = runs_since(began)["1005"]
        assert run.state.is_failed() and "spotdraft-data" in run.tags  # what the review's trigger matches
        with engine_for(sqlite_url).connect() as conn:
            letter = conn.execute(sa.select(dead_letters)).one()
        assert (letter.operation, letter.target, letter.status) == ("sync_contract", "contract 1005", "pending")

        sandbox.touch("T-1005", name="After the failure")
        deliver(url, 1005, "CONTRACT_EXECUTED")  # the next change tries again
        wait(lambda: name_of(sqlite_url, "T-1005") == "After the failure", timeout=60)
    assert len(runs_since(began)["1005"]) == 2


def test_two_workers_on_one_database_sync_each_change_once(sandbox, credentials, sqlite_url):
    began = datetime.now(UTC)
    first = SyncWorker(sqlite_url, credentials=credentials, settle_seconds=0.2)
    second = SyncWorker(sqlite_url, credentials=credentials, settle_seconds=0.2)
    ids = [(1010, "T-1010"), (1011, "T-1011"), (1012, "T-1012"), (1013, "H-1013"), (1014, "H-1014"), (1015, "T-1015")]
    with receiver(sqlite_url, first) as url, receiver(sqlite_url, second):
        for contract_id, composite in ids:
            sandbox.touch(composite, name=f"Once {contract_id}")
            deliver(url, contract_id)
        for contract_id, composite in ids:
            wait(lambda c=composite, i=contract_id: name_of(sqlite_url, c) == f"Once {i}", timeout=90)
        wait(lambda: settled(sqlite_url))
    runs = runs_since(began)
    assert {key: len(found) for key, found in runs.items()} == {str(i): 1 for i, _ in ids}


def test_a_run_a_dead_worker_left_running_is_closed_by_the_worker_that_takes_its_contract(sandbox, credentials,
                                                                                          sqlite_url):
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    from flows.sync_contract import sync_contract
    from store import record_leases
    from webhooks.left_running import ABANDONED
    from webhooks.sync_worker import TAGS

    with get_client(sync_client=True) as client:  # what a worker killed mid-sync leaves behind
        def left_running(contract_id: str, tags: tuple[str, ...]):
            return client.create_flow_run(sync_contract, parameters={"contract_id": contract_id}, tags=list(tags),
                                          state=Running()).id
        dead, other_contract, not_a_worker_run = (left_running("1020", TAGS), left_running("1021", TAGS),
                                                  left_running("1020", ("spotdraft",)))
    with engine_for(sqlite_url).begin() as conn:  # the dead worker's claim, lapsed
        conn.execute(record_leases.insert().values(key="sync-worker:1020", holder="sync-worker-dead",
                                                   expires_at=datetime(2000, 1, 1)))
    worker = SyncWorker(sqlite_url, credentials=credentials, settle_seconds=0.2)
    with receiver(sqlite_url, worker) as url:
        sandbox.touch("T-1020", name="After the dead worker")
        deliver(url, 1020)
        wait(lambda: name_of(sqlite_url, "T-1020") == "After the dead worker", timeout=60)
        wait(lambda: settled(sqlite_url))
    with get_client(sync_client=True) as client:
        states = {run_id: client.read_flow_run(run_id).state for run_id in (dead, other_contract, not_a_worker_run)}
    assert (states[dead].type.value, states[dead].name) == ("CANCELLED", ABANDONED), states[dead]
    assert states[other_contract].is_running() and states[not_a_worker_run].is_running()  # not the dead one's
