"""Task run names: one short line, never a lone surrogate (which Prefect cannot serialise into its
state events) nor the client secret of the credentials given to the same task.

Real sandbox over loopback HTTP, real Prefect (the in-process test harness: a real API server), real
SQLite.
"""

from __future__ import annotations

import time
import uuid

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

import tasks
from blocks import SpotDraftCredentials

pytestmark = pytest.mark.usefixtures("prefect_api")

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


# == task run names ==========================================================================================
def test_a_run_name_never_carries_a_lone_surrogate():
    name = tasks.get_contract_status.task_run_name(parameters={"composite_id": "T-1\ud800"})
    name.encode("utf-8")  # what Prefect has to do to send it


def test_a_task_run_named_after_a_lone_surrogate_id_does_not_stay_pending_on_the_server(sandbox, credentials):
    from tools.prefect_server import flush_prefect_workers

    @flow(name="b10-surrogate-id")
    def calls(creds: SpotDraftCredentials):
        return tasks.get_contract_status(creds, "T-1\ud800", return_state=True).type.value

    state = calls(credentials, return_state=True)
    assert state.result() == "FAILED"  # refused before sending, as it should be
    flush_prefect_workers()
    run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    deadline = time.monotonic() + 60  # task runs are recorded from events, seconds later on a loaded machine
    while True:
        with get_client(sync_client=True) as api:
            shown = [(r.name, r.state.type.value if r.state else None) for r in api.read_task_runs(
                flow_run_filter=run_filter)]
        if (shown and all(s in TERMINAL for _, s in shown)) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert shown and all(s in TERMINAL for _, s in shown), f"task run left on the server as {shown}"


def test_a_run_name_never_shows_the_client_secret_of_its_own_credentials(sandbox):
    canary = f"canary-Name-{uuid.uuid4().hex[:12]}"  # never registered: no client built on it yet
    creds = SpotDraftCredentials(client_id=sandbox.client_id, client_secret=canary, base_url=sandbox.base_url)
    name = tasks.get_contract_status.task_run_name(parameters={"credentials": creds, "composite_id": canary})
    assert canary not in name, name


class _Unprintable(str):
    def __str__(self):
        raise RuntimeError("no")

    def split(self, *args, **kwargs):
        raise RuntimeError("no")


@pytest.mark.parametrize("poison", [
    "x" * 5_000_000, "T-1\n2\r\n3\t4", 10 ** 5000, -7, 3.5, True, None, b"T-1", {"composite_id": "T-1"},
    ["T-1", "T-2"], ("T-1",), _Unprintable("T-1"), "   ", "\u00e9\u4e2d\U0001f600" * 30,
    "https://user:hunter2pass@db.example/x?sig=AbCdEf0123&X-Amz-Signature=deadbeef",
], ids=lambda p: type(p).__name__ if not isinstance(p, str) else f"str{len(p)}")
def test_a_run_name_is_always_one_short_line_and_never_fails(poison):
    """Holds: whatever the id, the namer returns the operation's name (plus at most one short id)."""
    for task_ in (tasks.get_contract_status, tasks.update_contract_note, tasks.list_contracts):
        params = {"composite_id": poison, "contract_id": poison, "note_id": poison, "page": poison}
        name = task_.task_run_name(parameters=params)
        assert isinstance(name, str) and name.startswith(task_.name)
        assert "\n" not in name and "\r" not in name and len(name) <= len(task_.name) + 3 * 52
        assert "hunter2pass" not in name and "AbCdEf0123" not in name and "deadbeef" not in name
