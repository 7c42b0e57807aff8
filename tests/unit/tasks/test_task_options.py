"""Typed tasks keep what every SpotDraft task shares under `with_options`, and `map`/`submit` under a
flow's name and tags run each one.
"""

from __future__ import annotations

import pytest


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

    @flow(name="typed-tasks")
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
