"""A finished run as the Prefect UI shows it, read back from the Prefect API: its final state and its artifacts."""

from __future__ import annotations

import json

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId


def server_state(state):
    """The final state of the run as the Prefect server keeps it (what the UI's badge shows)."""
    with get_client(sync_client=True) as api:
        return api.read_flow_run(state.state_details.flow_run_id).state


def artifacts_of(state) -> dict[str, object]:
    with get_client(sync_client=True) as api:
        found = api.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    return {a.key: a for a in found}


def table_rows(artifact) -> list[dict[str, str]]:
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
