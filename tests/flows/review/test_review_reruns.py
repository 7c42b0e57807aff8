"""The review's retry of a run that failed without recording what it gave up on: started again on its deployment
with the same parameters; a run made outside any deployment (the webhook sync worker's) on its flow's one
deployment, and refused with the reason when the flow has none or several. Real Prefect (the test harness)."""

from __future__ import annotations

import uuid

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Failed

from flows.review_reruns import _replay_flow_run

pytestmark = pytest.mark.usefixtures("prefect_api")


def failed_run_outside_a_deployment(api, deployments: int) -> tuple[str, list]:
    """A failed run of a new flow made in-process, as the sync worker makes them, and `deployments` of that flow."""
    @flow(name=f"rerun-{uuid.uuid4().hex[:8]}")
    def sync_one(contract_id: str, database_url: str = "") -> str:
        return contract_id

    flow_id = api.create_flow(sync_one)
    made = [api.create_deployment(flow_id=flow_id, name=f"on-change-{n}") for n in range(deployments)]
    run = api.create_flow_run(sync_one, parameters={"contract_id": "T-1001", "database_url": "sqlite:///x.db"},
                              tags=["spotdraft-webhook"], state=Failed(message="the database was away"))
    return str(run.id), made


def test_a_failed_run_outside_a_deployment_is_started_again_on_its_flows_one_deployment():
    with get_client(sync_client=True) as api:
        run_id, [deployment_id] = failed_run_outside_a_deployment(api, deployments=1)
        outcome = _replay_flow_run(None, "sqlite:///unused.db", {"flow_run_id": run_id}, None)
        again = api.read_flow_run(uuid.UUID(outcome["new_flow_run_id"]))
    assert again.deployment_id == deployment_id and outcome["deployment_id"] == str(deployment_id)
    assert again.parameters == {"contract_id": "T-1001", "database_url": "sqlite:///x.db"}


@pytest.mark.parametrize("deployments", [0, 2])
def test_a_failed_run_outside_a_deployment_whose_flow_has_not_one_deployment_is_refused_with_the_reason(deployments):
    with get_client(sync_client=True) as api:
        run_id, _ = failed_run_outside_a_deployment(api, deployments)
        with pytest.raises(ValueError, match=r"not started from a deployment.*run it again by hand"):
            _replay_flow_run(None, "sqlite:///unused.db", {"flow_run_id": run_id}, None)
