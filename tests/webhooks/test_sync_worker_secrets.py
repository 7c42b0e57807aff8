"""The sync worker leaks no client secret: not in its logs (a run's failure, the Prefect API failing, a dead worker's
run closed), not in the exception texts it logs, not in the runs' parameters, states and logs on the Prefect API, not
in the outbox or the dead letters.

In-process, as tests/webhooks/test_sync_worker.py, with the canary client secret (tests/support/secret_canary.py) as
the only one the sandbox accepts, saved in a credentials document the worker loads by name, as deployed. The full
run of the flows on a real server is tests/e2e/test_secret_canary.py.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from store import dead_letters, engine_for, record_leases
from tests.support.secret_canary import CLIENT_SECRET, Place
from tests.support.sync_contract_runs import wait
from tests.support.webhook_sinks import outbox_rows
from tests.support.webhook_sync import deliver, prefect_api_through_proxy, receiver, runs_since, settled
from webhooks import sync_worker
from webhooks.left_running import ABANDONED
from webhooks.sync_worker import TAGS, SyncWorker

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_no_client_secret_in_what_the_sync_worker_leaves(sqlite_url, all_logs, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.states import Running

    from blocks import SpotDraftCredentials
    from flows.sync_contract import sync_contract

    monkeypatch.setattr(sync_worker, "CLAIM_SECONDS", 1.5)
    began, block = datetime.now(UTC), f"canary-{uuid.uuid4().hex[:8]}"
    with Sandbox(contracts=10, seed=7, client_secret=CLIENT_SECRET, http_port=True) as sb, \
            prefect_api_through_proxy() as proxy:
        SpotDraftCredentials(client_id=sb.client_id, client_secret=CLIENT_SECRET, base_url=sb.base_url).save(block)
        sb.script("GET", r"/contracts/$", 403, query_regex="filter__contract_id=1002")  # a failed run, a letter
        sb.script("GET", r"/contracts/$", 401, query_regex="filter__contract_id=1003", times=20)
        with get_client(sync_client=True) as client:  # a dead worker's run, closed while the API fails at first
            dead = client.create_flow_run(sync_contract, parameters={"contract_id": "1004"}, tags=list(TAGS),
                                          state=Running()).id
        with engine_for(sqlite_url).begin() as conn:
            conn.execute(record_leases.insert().values(key="sync-worker:1004", holder="sync-worker-dead",
                                                       expires_at=datetime(2000, 1, 1)))
        worker = SyncWorker(sqlite_url, credentials_block=block, settle_seconds=0.1)
        with receiver(sqlite_url, worker) as url:
            proxy.fail()
            deliver(url, 1004)
            wait(lambda: "contract 1004: no sync run could be made" in all_logs.text)
            proxy.fail(False)
            for contract_id in (1000, 1002, 1003):
                deliver(url, contract_id)
            wait(lambda: settled(sqlite_url), timeout=60)
        with get_client(sync_client=True) as client:
            assert client.read_flow_run(dead).state.name == ABANDONED
            runs = [run for found in runs_since(began).values() for run in found] + [client.read_flow_run(dead)]
            states = [state for run in runs for state in client.read_flow_run_states(run.id)]
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id for run in runs])))
    assert {str(run.parameters["contract_id"]) for run in runs} == {"1000", "1002", "1003", "1004"}

    places = [Place(name, {"client secret": CLIENT_SECRET}) for name in (
        "this process's log records", "the runs' parameters", "the runs' states", "the runs' logs", "the database")]
    records, parameters, run_states, run_logs, database = places
    for record in all_logs.records:
        records.scan(record.name, all_logs.handler.format(record))
    for run in runs:
        parameters.scan(f"flow run {run.id} parameters", json.dumps(run.parameters, default=str))
    for state in states:
        run_states.scan(f"state {state.name}", f"{state.name} {state.message}")
    for log in logs:
        run_logs.scan(f"flow run log {log.flow_run_id}", log.message)
    with engine_for(sqlite_url).connect() as conn:
        letters = [dict(row) for row in conn.execute(sa.select(dead_letters)).mappings()]
    database.scan("outbox and dead letters", json.dumps([outbox_rows(sqlite_url), letters], default=str))
    for place in places:
        assert place.items > 0 and place.hits == [], (place.name, place.items, place.hits)
    assert "503" in all_logs.text and any(state.name == ABANDONED for state in states)  # the failures did happen
