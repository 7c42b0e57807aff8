"""A real `prefect server`'s REST API, read as raw JSON (what it stores, as it stores it): calls retried while its
SQLite database is locked for a moment, every page of a filter, events, a deployment's runs, a run waited for."""

from __future__ import annotations

import time

import httpx

from tests.support.prefect_server import TERMINAL


def rest(env: dict, method: str, path: str, body: dict | None = None):
    """A call to the server's REST API, answered as raw JSON. Retried on 503 and 429 as Prefect's
    own client does: under load the server's SQLite database is sometimes locked for a moment."""
    for attempt in range(20):
        answer = httpx.request(method, env["PREFECT_API_URL"] + path, json=body, timeout=30)
        if answer.status_code not in (429, 503) or attempt == 19:
            break
        time.sleep(min(0.25 * 2**attempt, 3))
    answer.raise_for_status()
    return answer.json() if answer.content else None


def pause_schedules(env: dict) -> int:
    """Turn the deployments' schedules off (their pending runs go too): a cron run falling due during
    the test would sync the deployment's default database, the worker's. Each schedule's parameters are sent back
    with it: Prefect's server (3.9) writes a PATCH's missing `parameters` as {} (the weekly full refresh would lose
    its full_refresh=True, and a test comparing schedules would compare nothing)."""
    paused = 0
    for deployment in rest(env, "POST", "/deployments/filter", {}):
        for schedule in deployment.get("schedules") or []:
            rest(env, "PATCH", f"/deployments/{deployment['id']}/schedules/{schedule['id']}",
                 {"active": False, "parameters": schedule.get("parameters") or {}})
            paused += 1
    return paused


def flow_run(env: dict, run_id) -> dict:
    return rest(env, "GET", f"/flow_runs/{run_id}")


def wait_for_run(env: dict, run_id, states: set[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = flow_run(env, run_id)
        kind = (run.get("state") or {}).get("type")
        if kind in states | TERMINAL:
            assert kind in states, f"{run['name']} ended {kind}: {run['state'].get('message')}"
            return run
        time.sleep(0.5)
    raise AssertionError(f"flow run {run_id} did not reach {states} in {timeout}s")


def runs_of(env: dict, deployment_name: str) -> list[dict]:
    deployment = rest(env, "GET", f"/deployments/name/{deployment_name}")
    return rest(env, "POST", "/flow_runs/filter",
                {"deployments": {"id": {"any_": [deployment["id"]]}}, "limit": 200})


def paged(env: dict, path: str, body: dict | None = None, limit: int = 200) -> list[dict]:
    found: list[dict] = []
    while True:
        page = rest(env, "POST", path, {**(body or {}), "limit": limit, "offset": len(found)})
        found.extend(page)
        if len(page) < limit:
            return found


def read_events(env: dict, **filter_) -> list[dict]:
    """Every event the server holds that matches `filter_` (the events API's filter; none: all), every page."""
    page = rest(env, "POST", "/events/filter", {"limit": 50, **({"filter": filter_} if filter_ else {})})
    found = list(page["events"])
    while page.get("next_page"):
        page = rest(env, "GET", page["next_page"].removeprefix(env["PREFECT_API_URL"]))
        found.extend(page["events"])
    return found
