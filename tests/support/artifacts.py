"""A finished run as the Prefect UI shows it, read back from the Prefect API: its final state, its artifacts and the
names of its task runs."""

from __future__ import annotations

import json
import re
import time

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId


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


def task_run_names(state, expected: int, including: set[str] = frozenset(), timeout: float = 60) -> list[str]:
    """The names of the run's task runs on the server, sorted. They arrive as events (sent by a background thread
    after the flow has returned, recorded by the server in turn), so wait for `expected` of them (and for the names
    in `including`); after `timeout` seconds, what is there."""
    run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as api:
            runs = api.read_task_runs(flow_run_filter=run_filter)
        names = sorted(r.name for r in runs)
        # A run first reported under Prefect's default name is renamed by a later event: wait for both.
        settled = len(names) >= expected and including <= set(names) and not any(random_suffix(n) for n in names)
        if settled or time.monotonic() > deadline:
            return names
        time.sleep(0.2)


def random_suffix(name: str) -> bool:
    """Prefect's default task run name, `{task name}-{3 hex digits}` (task names here have no spaces)."""
    return re.fullmatch(r"[\w-]+-[0-9a-f]{3}", name) is not None
