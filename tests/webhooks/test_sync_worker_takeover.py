"""A contract passing from one sync worker to another: the worker that takes it never sets a live run of the one it
took it from Abandoned, and a run a stopped worker left Running is closed by whichever worker takes the contract next,
also when the Prefect API failed when the first one tried to close it.

In-process, as tests/webhooks/test_sync_worker.py: receivers with their workers on one SQLite file, the sandbox over
HTTP, the real Prefect API of the `prefect_api` harness. The claims are made short (a second or two, not 30 s)
so that one lapses within the test.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import pytest

from tests.support.sync_contract_runs import wait
from tests.support.webhook_sync import deliver, name_of, prefect_api_through_proxy, receiver, runs_since, settled
from webhooks import sync_worker
from webhooks.left_running import ABANDONED
from webhooks.sync_worker import SyncWorker

pytestmark = pytest.mark.usefixtures("prefect_api")

CLAIM_S = 1.5


@pytest.fixture
def short_claims(monkeypatch):
    monkeypatch.setattr(sync_worker, "CLAIM_SECONDS", CLAIM_S)


def test_a_stopping_workers_last_sync_keeps_its_claim_and_is_not_abandoned(sandbox, credentials, sqlite_url,
                                                                           short_claims, monkeypatch):
    """A worker asked to stop takes no more contracts but finishes the syncs under way: while it does, its claims
    hold (the receiver that replaces it in a rolling restart must not take the contract and abandon its run)."""
    monkeypatch.setenv("SPOTDRAFT_TIMEOUT_READ", "30")
    sandbox.set_faults(timeout_sleep_s=4 * CLAIM_S)  # the stopping worker's sync outlasts its claim several times
    sandbox.script("GET", r"/T-1026/key_pointers$", "slow", times=1)
    began = datetime.now(UTC)
    leaving = SyncWorker(sqlite_url, credentials=credentials, settle_seconds=0.1)
    with receiver(sqlite_url, leaving) as url:
        sandbox.touch("T-1026", name="Before the restart")
        deliver(url, 1026)
        wait(lambda: not sandbox.app.injector.pending_script(), timeout=60)  # its run is reading the contract
        leaving.request_stop()
        arriving = SyncWorker(sqlite_url, credentials=credentials, settle_seconds=0.1)
        with receiver(sqlite_url, arriving):
            wait(lambda: name_of(sqlite_url, "T-1026") == "Before the restart", timeout=60)
            wait(lambda: settled(sqlite_url))
            time.sleep(1)  # the arriving worker's next rounds
    runs = sorted(runs_since(began)["1026"], key=lambda r: r.created)
    assert [state_names(r.id) for r in runs if ABANDONED in state_names(r.id)] == []
    for earlier, later in itertools.pairwise(runs):  # one sync of the contract at a time
        assert later.created >= earlier.end_time, (earlier, later)


def state_names(flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return [state.name for state in client.read_flow_run_states(flow_run_id)]


def test_a_run_left_running_is_closed_by_the_next_worker_also_when_the_api_failed_the_first_to_try(
        sandbox, credentials, sqlite_url, short_claims, caplog):
    """The first worker to take the dead worker's contract finds the Prefect API answering 503 when it would close
    the dead run, and is stopped before it could try again; the worker after it closes the run."""
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    from flows.sync_contract import sync_contract
    from store import engine_for, record_leases
    from webhooks.sync_worker import TAGS

    with prefect_api_through_proxy() as proxy:
        with get_client(sync_client=True) as client:  # what a worker killed mid-sync leaves behind
            dead = client.create_flow_run(sync_contract, parameters={"contract_id": "1027"}, tags=list(TAGS),
                                          state=Running()).id
        with engine_for(sqlite_url).begin() as conn:  # and its claim, lapsed
            conn.execute(record_leases.insert().values(key="sync-worker:1027", holder="sync-worker-dead",
                                                       expires_at=datetime(2000, 1, 1)))
        proxy.fail()
        first = SyncWorker(sqlite_url, credentials=credentials, settle_seconds=0.1)
        with receiver(sqlite_url, first) as url:
            sandbox.touch("T-1027", name="After two workers")
            deliver(url, 1027)
            wait(lambda: "contract 1027: no sync run could be made" in caplog.text)
        proxy.fail(False)
        second = SyncWorker(sqlite_url, credentials=credentials, settle_seconds=0.1)
        with receiver(sqlite_url, second):
            wait(lambda: name_of(sqlite_url, "T-1027") == "After two workers", timeout=60)
            wait(lambda: settled(sqlite_url))
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(dead).state
    assert (state.type.value, state.name) == ("CANCELLED", ABANDONED), state


def test_a_run_left_running_is_closed_also_when_its_change_was_stored_before_the_worker_died(
        sandbox, credentials, sqlite_url, short_claims):
    """The dead worker's run stored the change and the worker died before Prefect heard the run end: nothing is
    pending for that contract any more, and its lapsed claim alone brings the next worker to close the run."""
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    from flows.sync_contract import sync_contract
    from store import engine_for, record_leases
    from tests.support.sync_contract_runs import run
    from webhooks.sync_worker import TAGS

    with get_client(sync_client=True) as client:  # what a worker killed mid-sync leaves behind
        dead = client.create_flow_run(sync_contract, parameters={"contract_id": "1028"}, tags=list(TAGS),
                                      state=Running()).id
    with engine_for(sqlite_url).begin() as conn:
        conn.execute(record_leases.insert().values(key="sync-worker:1028", holder="sync-worker-dead",
                                                   expires_at=datetime(2000, 1, 1)))
    sandbox.touch("T-1028", name="Stored before the worker died")
    with receiver(sqlite_url, None) as url:  # the delivery, stored while no worker ran
        deliver(url, 1028)
    assert run(credentials, "1028", sqlite_url).is_completed()  # the read the dead run made: the change is stored
    worker = SyncWorker(sqlite_url, credentials=credentials, settle_seconds=0.1)
    with receiver(sqlite_url, worker), get_client(sync_client=True) as client:
        wait(lambda: client.read_flow_run(dead).state.is_final())
        state = client.read_flow_run(dead).state
    assert (state.type.value, state.name) == ("CANCELLED", ABANDONED), state
