"""Driving a real `prefect server` from a test: its CLI, its API (with the async client, or the sync one where
an event loop is already running, as under Playwright), deployments run and waited for, their runs read."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

from tests.support.paths import ROOT

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def cli(env: dict, *args: str, timeout: float = 180, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def api(env: dict, coro_fn):
    """Run an async Prefect-client call against the real server (not the test harness)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def go():
        async with get_client() as client:
            return await coro_fn(client)

    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        return asyncio.run(go())


def run_deployment(env: dict, name: str, parameters: dict) -> UUID:
    async def create(client):
        deployment = await client.read_deployment_by_name(name)
        run = await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
        return run.id

    return api(env, create)


def wait_for(env: dict, flow_run_id: UUID, states: set[str], timeout: float = 180, *, read=None, pause=time.sleep):
    """Poll the run until it reaches `states` (a terminal state outside them fails). `read` reads the run
    (default: the async client here) and `pause` waits between reads (the browser test's keep its page alive)."""
    read = read or (lambda: api(env, lambda c: c.read_flow_run(flow_run_id)))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = read()
        if run.state and run.state.type.value in states | TERMINAL:
            assert run.state.type.value in states, f"{run.name} ended {run.state.type.value}: {run.state.message}"
            return run
        pause(0.5)
    raise AssertionError(f"flow run {flow_run_id} did not reach {states} in {timeout}s")


def sync_api(env: dict, call):
    """`call(client)` with Prefect's sync client on the server `env` names: for code under Playwright's sync API,
    which holds an event loop in its thread, so the async client cannot be run there."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}), \
            get_client(sync_client=True) as client:
        return call(client)


def deployment_runs(env: dict, deployment_name: str) -> list:
    """The flow runs of a deployment ("flow-name/deployment-name"), read with the sync client."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    def read(client):
        deployment = client.read_deployment_by_name(deployment_name)
        return client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])))

    return sync_api(env, read)


def new_run_of(env: dict, deployment_name: str, known: set, pause, timeout: float = 30):
    """The deployment's run that is not among `known` (the one a run form just submitted), read with the sync
    client and waited for with `pause`. Runs its schedules made meanwhile are not that one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [r for r in deployment_runs(env, deployment_name) if r.id not in known and not r.auto_scheduled]
        if fresh:
            return fresh[0]
        pause(0.5)
    raise AssertionError(f"no new run of {deployment_name} within {timeout:.0f}s of submitting the form")


def artifact_id(env: dict, key: str, flow_run_id) -> str:
    """The id of the flow run's artifact with that key, read with the sync client."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    only = ArtifactFilter(key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    [found] = sync_api(env, lambda c: c.read_artifacts(artifact_filter=only))
    return str(found.id)
