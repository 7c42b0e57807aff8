"""The tasks and the Block inside real Prefect runs (temporary Prefect server on SQLite).

What is checked here is what only Prefect can show: task retries bounded by the shared budget,
no caching of API calls, and no secret in anything Prefect stores (parameters, states, logs, artifacts).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

import tasks
from blocks import SpotDraftCredentials
from client import errors
from tests.support.paths import CANARY_SECRET
from tools.prefect_server import flush_prefect_workers

pytestmark = pytest.mark.usefixtures("prefect_api")


def count(sandbox, method: str, path_part: str) -> int:
    return sum(1 for r in sandbox.request_log() if r.method == method and path_part in r.path)


def test_polling_twice_reaches_the_api_twice_even_with_result_persistence(credentials, sandbox, monkeypatch):
    monkeypatch.setenv("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "true")

    @flow
    def poll_twice(creds: SpotDraftCredentials, composite_id: str):
        return tasks.get_contract_status(creds, composite_id), tasks.get_contract_status(creds, composite_id)

    first = tasks.list_contracts.fn(credentials, page=1, limit=1)["results"][0]
    from flows.sync_pages import composite_id_of

    composite = composite_id_of(first)
    a, b = poll_twice(credentials, composite)
    assert a == b
    assert count(sandbox, "GET", "/status") == 2


def test_a_task_against_an_always_failing_server_sends_exactly_max_attempts(credentials, sandbox):
    sandbox.script("GET", r"/templates/$", 503, times=100)

    @flow
    def one_task(creds: SpotDraftCredentials):
        return tasks.list_templates(creds, return_state=True).result(raise_on_failure=False)

    assert isinstance(one_task(credentials), errors.ServerError)
    assert count(sandbox, "GET", "/templates/") == 4  # client retries + Prefect retries, all layers together


def test_a_retry_after_beyond_the_window_is_not_hammered_by_either_layer(credentials, sandbox):
    # Retry-After beyond what is left of SPOTDRAFT_RETRY_WINDOW (30 s): the client gives up at once,
    # and the error says not retryable, so Prefect does not send it again 10 ms later either.
    sandbox.script("GET", r"/templates/$", 429, times=5, headers={"Retry-After": "60"})

    @flow
    def one_task(creds: SpotDraftCredentials):
        return tasks.list_templates(creds, return_state=True).result(raise_on_failure=False)

    assert isinstance(one_task(credentials), errors.RateLimitedError)
    assert count(sandbox, "GET", "/templates/") == 1


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409])
def test_prefect_never_retries_a_permanent_failure(credentials, sandbox, status):
    sandbox.script("GET", r"/templates/$", status, times=100)

    @flow
    def one_task(creds: SpotDraftCredentials):
        return tasks.list_templates(creds, return_state=True).result(raise_on_failure=False)

    assert isinstance(one_task(credentials), errors.HTTPStatusError)
    assert count(sandbox, "GET", "/templates/") == 1


def test_task_names_and_tags_say_which_operation():
    assert tasks.get_contract_status.name == "get_contract_status"
    assert "spotdraft:operation:v2.1_public_contracts_status_retrieve" in tasks.get_contract_status.tags
    assert tasks.create_contract.retry_condition_fn is tasks.list_contracts.retry_condition_fn
    assert tasks.get_contract_status.cache_policy.__class__.__name__ == "_None"


def test_block_saves_loads_and_keeps_its_secret_secret(sandbox):
    creds = SpotDraftCredentials(client_id="id-1", client_secret=CANARY_SECRET, region="EU",
                                 base_url=sandbox.base_url)
    creds.save("canary-block", overwrite=True)
    loaded = SpotDraftCredentials.load("canary-block")
    assert loaded.client_secret.get_secret_value() == CANARY_SECRET
    assert CANARY_SECRET not in repr(loaded) and CANARY_SECRET not in str(loaded.model_dump())
    assert loaded.region == "EU" and loaded.get_client().host == sandbox.base_url.split("//")[1]


def test_block_refuses_plain_http_to_a_remote_host():
    with pytest.raises(ValueError, match="https"):
        SpotDraftCredentials(client_id="a", client_secret="b" * 8, base_url="http://api.us.spotdraft.com")


def test_the_canary_secret_appears_nowhere_prefect_stores(all_logs):
    """Logs, exception text, flow parameters, task states, results and artifacts: no secret anywhere."""
    from sandbox import Sandbox

    with Sandbox(contracts=5, seed=3, client_secret=CANARY_SECRET) as sb:
        creds = SpotDraftCredentials(client_id=sb.client_id, client_secret=CANARY_SECRET, base_url=sb.base_url)
        sb.script("GET", r"/templates/$", 503, times=2)
        sb.script("GET", r"/status$", 404, times=1)

        @flow(name="canary-flow")
        def canary(credentials: SpotDraftCredentials):
            tasks.list_templates(credentials)
            tasks.get_contract_status(credentials, "T-1", return_state=True)
            return tasks.list_contracts(credentials, page=1, limit=2)

        state = canary(creds, return_state=True)
        bad = SpotDraftCredentials(client_id=sb.client_id, client_secret=CANARY_SECRET + "x", base_url=sb.base_url)
        with pytest.raises(errors.AuthenticationError) as caught:
            bad.get_client().call("list_templates")

    texts = [r.getMessage() for r in all_logs.records] + [str(caught.value), repr(caught.value)]
    texts.append(json.dumps(caught.value.context.as_dict(), default=str))

    async def stored():
        async with get_client() as api:
            run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
            runs = await api.read_flow_runs(flow_run_filter=run_filter)
            task_runs = await api.read_task_runs()
            logs = await api.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[runs[0].id])))
            artifacts = await api.read_artifacts()
            return runs, task_runs, logs, artifacts

    # The logs and events this process still queues are sent first (logs go in batches every 2 s): the logs asserted
    # below are on the server however quickly the flow ran, and the scan covers all of them.
    flush_prefect_workers()
    runs, task_runs, logs, artifacts = asyncio.run(stored())
    assert logs, "the flow's logs should have reached the Prefect API"
    texts += [r.model_dump_json() for r in runs] + [t.model_dump_json() for t in task_runs]
    texts += [log.message for log in logs] + [a.model_dump_json() for a in artifacts]
    assert any("Retrying list_templates" in t for t in texts)
    leaked = [t[:200] for t in texts if CANARY_SECRET in t]
    assert leaked == []
