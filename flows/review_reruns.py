"""The review's own kind of dead letter: a run of a data flow that failed or crashed without recording what it
gave up on, and how the review's retry starts it again (on its deployment, with the same parameters)."""

from __future__ import annotations

import uuid
from typing import Any

from flows.replays import replays

FLOW_RUN = "flow_run"  # the operation of a dead letter for a run that failed without recording one


@replays(FLOW_RUN)
def _replay_flow_run(credentials, database_url, inputs, payload) -> dict[str, Any]:
    """Start the failed run's deployment again with the same parameters (read from Prefect, not stored here).

    A run made outside a deployment (the webhook sync worker's, in its own process) is started on its flow's
    deployment when the flow has exactly one (sync-contract's: sync-contract-on-change)."""
    from prefect.deployments import run_deployment

    original = _read_flow_run(inputs["flow_run_id"])  # raises when Prefect cannot be asked: failed again
    deployment_id = None if original is None else original.deployment_id or _only_deployment_of(original.flow_id)
    if deployment_id is None:
        raise ValueError("that run was not started from a deployment, and its flow has no one deployment to start "
                         "it on; run it again by hand, then discard this")
    parameters = _without_missing_blocks(original.parameters or {})
    run = run_deployment(deployment_id, parameters=parameters, timeout=0, as_subflow=False)
    return {"new_flow_run_id": str(run.id), "deployment_id": str(deployment_id)}


def _only_deployment_of(flow_id) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterId

    with get_client(sync_client=True) as api:
        found = api.read_deployments(flow_filter=FlowFilter(id=FlowFilterId(any_=[flow_id])), limit=2)
    return found[0].id if len(found) == 1 else None


def _without_missing_blocks(parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters less any reference to a Block document that no longer exists.

    A run refers to its credentials document by id; a document deleted and created again (and
    deployed again) has a new id. Left out, the parameter takes the deployment's current default,
    instead of failing the new run, and its review, and the next.
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    kept = {}
    with get_client(sync_client=True) as api:
        for name, value in parameters.items():
            ref = value.get("$ref") if isinstance(value, dict) else None
            document_id = ref.get("block_document_id") if isinstance(ref, dict) else None
            if document_id:
                try:
                    api.read_block_document(uuid.UUID(str(document_id)), include_secrets=False)
                except (ObjectNotFound, ValueError):
                    continue
            kept[name] = value
    return kept


def _read_flow_run(flow_run_id: str):
    """The flow run, or None when Prefect does not know it; raises when Prefect cannot be asked."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as api:
            return api.read_flow_run(uuid.UUID(str(flow_run_id)))
    except (ObjectNotFound, ValueError):  # no such run (or not a run id at all)
        return None
