"""Driving a real `prefect server` from a test: its CLI, its API, deployments run and waited for."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from uuid import UUID

from tests.support.paths import ROOT

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def cli(env: dict, *args: str, timeout: float = 180) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *args],
        cwd=ROOT,
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
