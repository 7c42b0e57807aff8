"""How long a change in SpotDraft takes to reach its row in the database, through the webhook path.

The production path, set up as tests/test_e2e_server.py sets it up: a sandbox process (SpotDraft),
the block type registered and a credentials document 'spotdraft', a process work pool 'spotdraft',
`prefect deploy` of the sync-contract-on-change deployment (its database_url pointed at a fresh
SQLite file), a process worker polling every second, the receiver subscribed with
flows.register_webhook and started as `python -m webhooks --key-block spotdraft-webhook-key`.
Only that deployment is deployed: the others' schedules would write the repository's spotdraft.db.

What is measured. Every contract starts as DRAFT, and is already in the database (one full sync
first), as a contract is when it changes in production. A change is one lifecycle step, `send`
(DRAFT -> REDLINING), each to a different contract, so no two runs share a contract and the
per-contract debounce merges nothing. Its latency runs from the change (the contract's
last_updated_on, stamped by the sandbox) to the write of its row showing REDLINING
(contracts.synced_at; committed a few milliseconds later). Every clock is this machine's.

Two loads:
- steady: a new change whenever fewer than IN_FLIGHT (3) changes still wait for their row. Each
  run is a new Python process that imports Prefect and the flows, about 4 s of CPU before the flow
  starts (3.7 s for the imports alone on this 2-core machine, which others share). A fixed rate
  either idles a fast machine or queues a slow one (one change every 5 s did: the last third of
  100 waited 104 s against the first third's 14 s), so the stream paces itself: a few runs overlap,
  as in a busy workspace, and no queue builds in front of the worker (the report compares the
  first third's median with the last third's). The median, p95 and max come from this load.
- burst: BURST (20) changes at once, a bulk action in SpotDraft: 20 processes start together,
  and the last row shows how long such a queue takes to drain.

Where the time goes, per change, from the sandbox's delivery log and the run's states in Prefect:
  change -> delivery posted         the sandbox's per-URL lane takes it
  posted -> answered                the receiver verifies it and hands the event to Prefect
  answered -> flow run created      Prefect's trigger matches the event and creates the run
  created -> submitted              the worker's next poll (every 1 s) picks it up: Pending
  submitted -> running              a new Python process starts the flow
  running -> row written            ticket, turn, settle_seconds (its default, 2 s), read, write
The run completes after its row is written; that tail is shown, not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from sandbox import SandboxProcess
from store import contracts, engine_for
from tools.prefect_server import free_port, stop_process_group
from webhooks.delivery import event_id_for

REPO = Path(__file__).resolve().parents[1]
DEPLOYMENT = "sync-contract/sync-contract-on-change"
KEY_BLOCK = "spotdraft-webhook-key"
STEP, BEFORE, AFTER = "send", "DRAFT", "REDLINING"  # the change: one delivery, CONTRACT_SENT_TO_COUNTERPARTY
ACTIVITY = "CONTRACT_SENT_TO_COUNTERPARTY"
DELIVERIES = 100
IN_FLIGHT = 3
BURST = 20
ROW_TIMEOUT_S = 300.0  # a change whose row is not written this long after it is lost
WORKER_ENV = {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5",
              "PREFECT_LOGGING_LEVEL": "INFO"}


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


# ---------------------------------------------------------------------------- the stack


def prefect_cli(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    done = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"prefect {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def run_python(env: dict[str, str], code: str, *args: str, timeout: float = 180) -> str:
    """Run `code` in a fresh interpreter (as an operator would, with the stack's Prefect settings)."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"python -c failed:\n{done.stderr[-2000:]}")
    return done.stdout


def api(env: dict[str, str], call: Callable[[Any], Any]) -> Any:
    """`await call(client)` with a Prefect client on the stack's server."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def go():
        async with get_client() as client:
            return await call(client)

    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        return asyncio.run(go())


def save_credentials(env: dict[str, str], sb: SandboxProcess) -> None:
    prefect_cli(env, "block", "register", "-m", "blocks")
    save = ("from blocks import SpotDraftCredentials as C; import os; "
            "C(client_id=os.environ['SB_ID'], client_secret=os.environ['SB_SECRET'], "
            "base_url=os.environ['SB_URL']).save('spotdraft', overwrite=True)")
    run_python({**env, "SB_ID": sb.client_id, "SB_SECRET": sb.client_secret, "SB_URL": str(sb.base_url)}, save)


def deploy(env: dict[str, str], database_url: str) -> None:
    """The work pool and the per-contract sync's deployment, writing `database_url`."""
    prefect_cli(env, "work-pool", "create", "spotdraft", "--type", "process", "--overwrite")
    prefect_cli(env, "deploy", "--name", DEPLOYMENT.split("/")[1], "--prefect-file", "deployments/prefect.yaml")

    async def point_at(client):
        from prefect.client.schemas.actions import DeploymentUpdate

        deployment = await client.read_deployment_by_name(DEPLOYMENT)
        await client.update_deployment(deployment.id, DeploymentUpdate(
            parameters={**deployment.parameters, "database_url": database_url}))

    api(env, point_at)


def settle_seconds(env: dict[str, str]) -> float:
    """The settle_seconds the deployed runs use: the flow's default, as the deployment's form shows it."""
    deployment = api(env, lambda client: client.read_deployment_by_name(DEPLOYMENT))
    return float(deployment.parameters.get(
        "settle_seconds", deployment.parameter_openapi_schema["properties"]["settle_seconds"]["default"]))


def fill_database(env: dict[str, str], database_url: str, contract_count: int) -> None:
    """One full sync, so every contract has its row before it changes."""
    sync = ("import sys; from blocks import SpotDraftCredentials as C; from flows import sync_contracts; "
            "sync_contracts(C.load('spotdraft'), database_url=sys.argv[1], reference_data=False)")
    run_python({**env, "PREFECT_LOGGING_LEVEL": "WARNING"}, sync, database_url)
    with engine_for(database_url).connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).where(contracts.c.contract_status == BEFORE)).scalar_one()
    if stored != contract_count:
        raise RuntimeError(f"the full sync stored {stored} {BEFORE} contracts of {contract_count}")


def register_webhook(env: dict[str, str], sb: SandboxProcess, url: str) -> None:
    register = ("import sys; from blocks import SpotDraftCredentials; from flows import register_webhook; "
                f"register_webhook(SpotDraftCredentials.load('spotdraft'), sys.argv[1], key_block={KEY_BLOCK!r})")
    run_python(env, register, url)
    if [w["url"] for w in sb.webhooks] != [url]:
        raise RuntimeError(f"the sandbox's subscriptions are {sb.webhooks}, not one to {url}")


@contextlib.contextmanager
def background(env: dict[str, str], log_path: Path, *args: str) -> Iterator[subprocess.Popen]:
    """A long-running process of the stack, in its own process group, stopped (with its children) on exit."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            stop_process_group(process, grace=3)


@contextlib.contextmanager
def worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """A process worker on the pool. Its flow-run processes each run in a session of their own, so stopping
    the worker's group leaves them: those it has when the worker stops are stopped after it."""
    flow_runs: list[int] = []
    try:
        with background(env, log_path, "-m", "prefect", "worker", "start", "--pool", "spotdraft") as process:
            try:
                yield process
            finally:
                flow_runs = children(process.pid)
    finally:
        for pid in flow_runs:
            stop_group(pid)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:  # after "pid (name)": state, ppid, ...
                found.append(int(stat.parent.name))
    return found


def stop_group(leader: int, grace: float = 3.0) -> None:
    """SIGTERM the process group `leader` leads, then SIGKILL it if the leader is still running."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader, sig)
        deadline = time.monotonic() + grace
        while running(leader) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not running(leader):
            return


def running(pid: int) -> bool:
    """Alive and not a zombie (a reparented child may stay one until its new parent reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)


def answers(url: str, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"the receiver exited with {process.returncode}")
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def webhook_stack(prefect_env: dict[str, str], home: Path, contract_count: int) -> Iterator[tuple]:
    """Everything above, ready for changes: yields (sandbox, env, database_url, contract ids)."""
    env = {**os.environ, **prefect_env, **WORKER_ENV}
    database_url = f"sqlite:///{home / 'webhooks.db'}"
    with contextlib.ExitStack() as stack:
        sb = stack.enter_context(SandboxProcess(contracts=contract_count, seed=12))
        ids = [str(c["id"]) for c in sb.snapshot()]
        for contract_id in ids:
            sb.touch(contract_id, status=BEFORE)  # silent: no delivery
        save_credentials(env, sb)
        deploy(env, database_url)
        fill_database(env, database_url, len(ids))
        stack.enter_context(worker(env, home / "worker.log"))
        port = free_port()
        register_webhook(env, sb, f"http://127.0.0.1:{port}/spotdraft/webhooks")
        receiver = stack.enter_context(background(env, home / "receiver.log", "-m", "webhooks", "--port", str(port),
                                                  "--key-block", KEY_BLOCK))
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz", receiver), 90, "the receiver to answer")
        yield sb, env, database_url, ids


# ---------------------------------------------------------------------------- changes and their moments


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
    """From Prefect: each contract's (first) run, its creation and its Pending, Running and final states."""
    by_contract = {c.contract_id: c for c in changes}

    async def read(client):
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
        from prefect.client.schemas.sorting import FlowRunSort

        deployment = await client.read_deployment_by_name(DEPLOYMENT)
        only_ours = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
        runs, page = [], None
        while page is None or len(page) == 200:
            page = await client.read_flow_runs(deployment_filter=only_ours, sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                                               limit=200, offset=len(runs))
            runs += page
        for run in runs:
            change = by_contract.get(str(run.parameters.get("contract_id")))
            if change is None or change.created is not None:
                continue
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


# ---------------------------------------------------------------------------- figures


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value at least `share` of the values are not above."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def spans(changes: list[Change], start: str, end: str) -> list[float]:
    pairs = [(getattr(c, start), getattr(c, end)) for c in changes]
    return [b - a for a, b in pairs if a is not None and b is not None]


def report(title: str, changes: list[Change], settle: float, *, trend: bool) -> bool:
    """Print the latency and where it goes; False when a change never reached its row."""
    latencies = [c.latency for c in changes if c.latency is not None]
    lost = len(changes) - len(latencies)
    print(f"  {title}")
    if latencies:
        median = statistics.median(latencies)
        print(f"    change -> row   median {median:6.2f} s   p95 {percentile(latencies, 0.95):6.2f} s   "
              f"max {max(latencies):6.2f} s   ({len(latencies)} of {len(changes)} changes)")
        print_stages(changes, trend)
        print(f"    settle_seconds ({settle:g} s, in 'running -> row written') is {settle / median:.0%} of the median")
    if lost:
        print(f"    LOST: {lost} change(s) had no row {ROW_TIMEOUT_S:.0f} s after the change:", file=sys.stderr)
        for change in (c for c in changes if c.row is None):
            reached = [name for name in MOMENTS if getattr(change, name) is not None][-1]
            print(f"      contract {change.contract_id}: last seen '{reached}', run {change.run_state}",
                  file=sys.stderr)
    return lost == 0


def print_stages(changes: list[Change], trend: bool) -> None:
    """Median and p95 of each stage, and its share of the mean latency (means add up; medians need not)."""
    complete = [c for c in changes if c.seen_at_every_step]
    if not complete:
        return
    mean_latency = statistics.fmean(c.latency for c in complete)
    print(f"    where it goes ({len(complete)} changes seen at every step)   median       p95   share")
    for label, start, end in [*STAGES, TAIL]:
        values = spans(complete, start, end)
        share = "(after)" if (label, start, end) == TAIL else f"{statistics.fmean(values) / mean_latency:7.0%}"
        print(f"      {label:32s} {statistics.median(values):7.2f} s {percentile(values, 0.95):7.2f} s  {share}")
    thirds = len(complete) // 3
    if trend and thirds >= 5:  # a latency that grows through the stream means runs queued: the pace was too fast
        first, last = (statistics.median(c.latency for c in part) for part in (complete[:thirds], complete[-thirds:]))
        print(f"    median of the first third {first:.2f} s, of the last third {last:.2f} s")


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg()) + f" on {os.cpu_count()} cores"


def run(prefect_env: dict[str, str], home: Path, deliveries: int = DELIVERIES) -> bool:
    """The section: `deliveries` steady changes, then a burst of BURST; False when a change was lost."""
    began = time.monotonic()
    home.mkdir(parents=True, exist_ok=True)
    print(f"webhooks: a change in SpotDraft -> its row in SQLite (receiver, Prefect event, trigger, process worker, "
          f"sync_contract); {deliveries} changes at most {IN_FLIGHT} in flight, then {BURST} at once:", flush=True)
    with webhook_stack(prefect_env, home, deliveries + BURST) as (sb, env, database_url, ids):
        print(f"  stack ready in {time.monotonic() - began:.0f} s; load average {load_average()}", flush=True)
        settle = settle_seconds(env)
        steady = measure(sb, env, database_url, ids[:deliveries], IN_FLIGHT)
        ok = report(f"steady: {deliveries} changes, each to its own contract, a new one whenever fewer than "
                    f"{IN_FLIGHT} rows are still to come", steady, settle, trend=True)
        burst = measure(sb, env, database_url, ids[deliveries:], BURST)
        ok = report(f"burst: {BURST} changes at once, each to its own contract", burst, settle, trend=False) and ok
    print(f"  the section took {time.monotonic() - began:.0f} s; load average {load_average()} "
          f"(the figures are this machine's, shared with whatever else ran)")
    return ok
