"""The webhook benchmark's changes and their moments (tools/bench_webhooks.py says what they are): each change
made in the sandbox, then when its delivery was posted and answered, its flow run created, submitted and
running, its row written and the run completed, read from the sandbox, the database and Prefect."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from sandbox import SandboxProcess
from store import contracts, engine_for
from tools.bench_webhooks_stack import AFTER, STEP, api
from webhooks.delivery import event_id_for

ACTIVITY = "CONTRACT_SENT_TO_COUNTERPARTY"
ROW_TIMEOUT_S = 300.0  # a change whose row is not written this long after it is lost


@dataclass
class Change:
    """One change's moments, in epoch seconds (None: not seen)."""

    contract_id: str  # SpotDraft's integer id, as deliveries and the runs' parameters give it
    composite_id: str  # T-<id> or H-<id>, as the contracts table holds it
    changed: float
    posted: float | None = None
    answered: float | None = None
    created: float | None = None
    submitted: float | None = None
    running: float | None = None
    row: float | None = None
    completed: float | None = None
    event_id: str | None = None  # the receiver's event (a digest of the delivery's bytes)
    run_state: str = "no flow run"  # the run's final state, and its message when it did not complete

    @property
    def seen_at_every_step(self) -> bool:
        return all(getattr(self, name) is not None for name in MOMENTS)

    @property
    def latency(self) -> float | None:
        return None if self.row is None else self.row - self.changed


MOMENTS = ("changed", "posted", "answered", "created", "submitted", "running", "row", "completed")
STAGES = [  # (label, from, to): consecutive moments, so the stages add up to the latency
    ("change -> delivery posted", "changed", "posted"),
    ("posted -> receiver answered", "posted", "answered"),
    ("answered -> flow run created", "answered", "created"),
    ("created -> submitted by worker", "created", "submitted"),
    ("submitted -> flow running", "submitted", "running"),
    ("running -> row written", "running", "row"),
]
TAIL = ("row written -> run completed", "row", "completed")


def epoch(moment: datetime | str) -> float:
    """Seconds since the epoch of an aware datetime, an ISO text, or a naive UTC datetime (as the tables hold)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def make_changes(sb: SandboxProcess, database_url: str, ids: list[str], in_flight: int) -> list[Change]:
    """`send` each contract, starting the next one only while fewer than `in_flight` rows are still to come;
    returns once every row is written or its change is ROW_TIMEOUT_S old."""
    changes: list[Change] = []
    for contract_id in ids:
        wait_for_rows(database_url, changes, at_most_pending=in_flight - 1)
        changed = sb.advance(contract_id, STEP)
        changes.append(Change(contract_id, changed["composite_id"], epoch(changed["last_updated_on"])))
    wait_for_rows(database_url, changes, at_most_pending=0)
    return changes


def wait_for_rows(database_url: str, changes: list[Change], at_most_pending: int) -> None:
    """Note each change's row as it is written, until at most `at_most_pending` are still to come
    (a change ROW_TIMEOUT_S old without its row is no longer waited for: lost)."""
    while True:
        pending = {c.composite_id: c for c in changes if c.row is None and time.time() - c.changed < ROW_TIMEOUT_S}
        for composite_id, written in rows_written(database_url, list(pending)).items():
            pending.pop(composite_id).row = written
        if len(pending) <= at_most_pending:
            return
        time.sleep(0.2)


def rows_written(database_url: str, composite_ids: list[str]) -> dict[str, float]:
    """Composite id -> when its row was written showing the change, for those written so far."""
    with engine_for(database_url).connect() as conn:
        found = conn.execute(sa.select(contracts.c.composite_id, contracts.c.synced_at)
                             .where(contracts.c.composite_id.in_(composite_ids), contracts.c.contract_status == AFTER))
        return {row.composite_id: epoch(row.synced_at) for row in found}


def add_deliveries(sb: SandboxProcess, changes: list[Change]) -> None:
    """From the sandbox's delivery log: when the first attempt was posted, when a 2xx answer ended."""
    by_contract = {c.contract_id: c for c in changes}
    for attempt in sb.webhook_deliveries(activity=ACTIVITY):
        change = by_contract.get(str(attempt["contract_id"]))
        if change is None:
            continue
        change.posted = change.posted or attempt["time"]
        change.event_id = str(event_id_for(attempt["body_sha256"]))
        if attempt["status"] is not None and 200 <= attempt["status"] < 300:
            change.answered = attempt["time"] + attempt["duration_ms"] / 1000


def add_runs(env: dict[str, str], changes: list[Change]) -> None:
    """From Prefect: each contract's (first) sync-contract run, its creation and its Pending, Running and final
    states (in-process runs are Pending from their creation)."""
    by_contract = {c.contract_id: c for c in changes}

    async def read(client):
        from prefect.client.schemas.filters import FlowFilter, FlowFilterName
        from prefect.client.schemas.sorting import FlowRunSort

        only_ours = FlowFilter(name=FlowFilterName(any_=["sync-contract"]))
        runs, page = [], None
        while page is None or len(page) == 200:
            page = await client.read_flow_runs(flow_filter=only_ours, sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                                               limit=200, offset=len(runs))
            runs += page
        for run in runs:
            change = by_contract.get(str(run.parameters.get("contract_id")))
            if change is None or change.created is not None or epoch(run.created) < change.changed - 1:
                continue  # another section's run of the same contract id (the same server, the same seed)
            change.created = epoch(run.created)
            change.completed = epoch(run.end_time) if run.end_time and run.state.is_completed() else None
            change.run_state = describe(run.state)
            for state in await client.read_flow_run_states(run.id):
                if state.type.value == "PENDING":
                    change.submitted = change.submitted or epoch(state.timestamp)
                elif state.type.value == "RUNNING":
                    change.running = change.running or epoch(state.timestamp)

    api(env, read)


def add_failed_actions(env: dict[str, str], changes: list[Change]) -> None:
    """For a change without a run: Prefect's own account, when its trigger's action failed (an event of its)."""
    by_event = {c.event_id: c for c in changes if c.created is None and c.event_id}
    if not by_event:
        return

    async def read(client):
        from prefect.events.filters import EventFilter, EventNameFilter

        failed = EventFilter(event=EventNameFilter(name=["prefect.automation.action.failed"]))
        page = await client.read_events(filter=failed, limit=50)
        events = list(page.events)
        while page.next_page:
            page = await client.read_events_page(page.next_page)
            events += page.events
        return events

    for event in api(env, read):
        for related in event.related:
            change = by_event.get(related.id.removeprefix("prefect.event."))
            if change is not None and related.role == "triggering-event":
                change.run_state = f"none: Prefect's trigger action failed ({event.payload.get('reason')})"


def describe(state: Any) -> str:
    if state is None:
        return "no state"
    if state.is_completed():
        return state.name
    return f"{state.name}: {(state.message or '')[:200]}"


def measure(sb: SandboxProcess, env: dict[str, str], database_url: str, ids: list[str],
            in_flight: int) -> list[Change]:  # fmt: skip
    changes = make_changes(sb, database_url, ids, in_flight)
    add_deliveries(sb, changes)
    add_runs(env, changes)
    add_failed_actions(env, changes)
    return changes
