"""A review run started in a thread and waited for until it pauses for decisions; a record the create
flow accepts; the paused review answered."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from types import SimpleNamespace

from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run

from flows import review_failed_operations


def good_record(external_id: str) -> dict:
    return {
        "external_id": external_id,
        "contract_data": {"customer_name": "Acme"},
        "counter_party_details": [
            {"is_individual": False, "organization_name": "Acme", "poc_details": {"first_name": "A", "email": "a@x.io"}}
        ],
    }


def start_review(credentials, database_url, **params) -> tuple[threading.Thread, list]:
    out: list = []

    def run():
        out.append(review_failed_operations(credentials, database_url=database_url, poll_seconds=1,
                                            return_state=True, **params))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def wait_until_paused(timeout: float = 60.0, other_than=()):
    """The latest review run paused for decisions, but for those in `other_than` (ids of runs already paused)."""
    async def paused_runs():
        async with get_client() as api:
            runs = await api.read_flow_runs(sort="START_TIME_DESC", limit=20)
            return [r for r in runs if r.state and r.state.is_paused() and r.id not in other_than]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = asyncio.run(paused_runs())
        if runs:
            return runs[0]
        time.sleep(0.3)
    raise AssertionError("the review run never paused")


def resume_with(decisions: list[dict], reviewer: str = "ops@example.com") -> None:
    """Answer the paused review, as the UI's Resume form does."""
    resume_flow_run(wait_until_paused().id, run_input={"reviewer": reviewer, "decisions": decisions})


def _paused_run_ids() -> set:
    async def read():
        async with get_client() as api:
            runs = await api.read_flow_runs(sort="START_TIME_DESC", limit=50)
            return {r.id for r in runs if r.state and r.state.is_paused()}

    return asyncio.run(read())


@contextlib.contextmanager
def paused_review(credentials, sqlite_url: str, timeout_minutes: float = 1.0):
    """A review run waiting in its pause; resumed with no decision on the way out if a test left it waiting."""
    known = _paused_run_ids()
    out: list = []
    thread = threading.Thread(target=lambda: out.append(review_failed_operations(
        credentials, database_url=sqlite_url, poll_seconds=1, timeout_minutes=timeout_minutes, return_state=True)),
        daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not (fresh := _paused_run_ids() - known):
        assert thread.is_alive() or not out, f"the review ended without pausing: {out and out[0]}"
        assert time.monotonic() < deadline, "the review never paused"
        time.sleep(0.3)
    review = SimpleNamespace(id=next(iter(fresh)), out=out, thread=thread)
    try:
        yield review
    finally:
        if thread.is_alive():
            with contextlib.suppress(Exception):
                resume_flow_run(review.id, run_input={"reviewer": "cleanup", "decisions": []})
            thread.join(60)


def ended(review):
    review.thread.join(90)
    assert review.out, "the review did not end"
    return review.out[0]
