"""The fault matrix's machinery: cells, the runs of one cell, the review answered like a person, the checks.

A cell is one kind of fault (or of bad data) against one flow. Its runs follow what a schedule brings:
the flow runs under the fault (twice: the hourly run after the first), the source changes in between,
then the faults clear, the review retries every pending dead letter, and the flow runs once more.
What must hold afterwards is the same for every cell (see `check_*`): the database equals the
sandbox's truth, no external id has two contracts, every operation given up on is a dead letter,
nothing is stuck. Each cell's figures go to a table printed after its module
(one per flow: tests/flows/sync/ and tests/flows/create/, each test_fault_matrix.py).

Faults that are data, not weather (a poison record, a contract that answers 403 for good) are not
cleared before the last run: what they touch may stay dead-lettered, and nothing else may.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sandbox import Faults, Sandbox

TABLES = Path(__file__).resolve().parents[1]  # each flow's table goes to tests/.matrix-<flow>.txt (ignored by git)
PAGE_SIZE = 10
SYNC_CONTRACTS = 30
CREATE_RECORDS = 15
FAULTS_OFF = {
    "p_5xx": 0.0, "p_html_502": 0.0, "p_drop": 0.0, "p_timeout": 0.0, "p_bad_json": 0.0, "p_ambiguous_write": 0.0,
    "p_latency": 0.0, "p_429": 0.0, "p_429_bare": 0.0, "p_contradictory_page": 0.0, "p_slow": 0.0, "rate_limit": None,
}  # fmt: skip
LIST_PATH = r"/public/contracts/$"
POST_PATH = r"/public/contracts/$"
# One request at a time, so a seed puts the same fault on the same request every time (concurrent calls
# would race for the RNG's draws); the flows' concurrency has tests of its own.
CONCURRENCY = 1
SLOW = {"timeout_sleep_s": 2.5}  # past SPOTDRAFT_TIMEOUT_READ=2 (conftest)


@dataclass(frozen=True)
class Script:
    """One scripted outcome (see Sandbox.script); `persistent` ones stay through the last run."""

    method: str | None
    path_regex: str
    outcome: int | str
    times: int = 1
    headers: dict[str, Any] | None = None
    body: Any = None
    persistent: bool = False


@dataclass(frozen=True)
class Cell:
    flow: str  # "sync" or "create"
    name: str
    faults: dict[str, Any] = field(default_factory=dict)  # Faults settings, seeded by `seed`
    scripts: tuple[Script, ...] = ()
    seed: int = 1
    concurrency: int | None = None
    # (sandbox, cell state) -> None: data the cell starts from (poison records, forbidden contracts)
    setup: Callable[[Sandbox, CellState], None] | None = None

    @property
    def id(self) -> str:
        return f"{self.flow}-{self.name}"

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.faults.items() if k not in ("timeout_sleep_s",)]
        parts += [f"{s.outcome}x{s.times}{'!' if s.persistent else ''}" for s in self.scripts]
        return ", ".join(parts) or "-"


@dataclass
class CellState:
    """What a cell collects as it goes: its runs, the ids that may stay dead-lettered, the problems found."""

    started: datetime
    states: list[Any] = field(default_factory=list)  # final states of the runs we started
    lenient: dict[str, str] = field(default_factory=dict)  # id or reference -> why it may stay dead-lettered
    persistent: list[Script] = field(default_factory=list)  # scripted by a setup, kept through the last run
    problems: list[str] = field(default_factory=list)
    runs: int = 0
    faults_injected: int = 0
    data_faults: int = 0  # poison records and the like: faults in the data, not in the requests
    records: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    stuck: int = 0
    letters: int = 0  # dead letters written in the cell
    left: int = 0  # of them still pending at the end (allowed only for poison and for-good 403s)

    def problem(self, text: str) -> None:
        self.problems.append(text)


# ---------------------------------------------------------------------------- sandbox


def new_sandbox(cell: Cell, contracts: int) -> Sandbox:
    """A sandbox without the duplicate rule (SpotDraft promises none), faults off until the runs begin."""
    return Sandbox(contracts=contracts, seed=cell.seed, faults=Faults(seed=cell.seed), duplicate_rule=False)


def inject(sb: Sandbox, cell: Cell, *, reseed: int) -> None:
    sb.set_faults(reseed=reseed, **{**FAULTS_OFF, **cell.faults})
    for s in cell.scripts:
        sb.script(s.method, s.path_regex, s.outcome, s.times, s.headers, s.body)


def clear_faults(sb: Sandbox, cell: Cell, cs: CellState) -> None:
    sb.set_faults(**FAULTS_OFF)
    sb.clear_script()
    for s in [*cell.scripts, *cs.persistent]:
        if s.persistent or s in cs.persistent:
            sb.script(s.method, s.path_regex, s.outcome, s.times, s.headers, s.body)


def faults_seen(sb: Sandbox) -> int:
    return sum(1 for r in sb.requests if r.fault and not r.fault.endswith(":latency"))


# ---------------------------------------------------------------------------- database


def rows_of(database_url: str, table: sa.Table) -> list[dict[str, Any]]:
    from store import engine_for

    with engine_for(database_url).connect() as conn:
        try:
            return [dict(r._mapping) for r in conn.execute(sa.select(table))]
        except sa.exc.OperationalError:  # the table was never made: the run died before writing
            return []


def letter_text(letter: dict[str, Any]) -> str:
    """What a dead letter says, as one text: target, error, inputs and context."""
    parts = [str(letter.get(k) or "") for k in ("target", "error_message")]
    parts += [json.dumps(letter.get(k), default=str) for k in ("inputs", "context")]
    return " ".join(parts)


def letters_about(letters: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return [letter for letter in letters if any(k and k in letter_text(letter) for k in keys)]


# ---------------------------------------------------------------------------- Prefect


def letters_about_failure(letters: list[dict[str, Any]], state: Any) -> list[dict[str, Any]]:
    """Pending letters about what ended a run: naming the request that failed it, or (when it names
    none, e.g. a database error) of this run and of the same error class. A letter merely refreshed
    by the run (another contract's) does not count."""
    message = str(state.message or "")
    request = re.search(r"request id ([\w-]+)", message)
    if request:
        return letters_about(letters, f"request id {request.group(1)}", f'"{request.group(1)}"')
    error_class = re.search(r"exception: (\w+)", message)
    run_id = str(state.state_details.flow_run_id)
    return [r for r in letters if r["flow_run_id"] == run_id
            and (error_class is None or r["error_class"] == error_class.group(1))]


def flow_runs_since(started: datetime) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStartTime

    async def read():
        async with get_client() as api:
            window = FlowRunFilter(start_time=FlowRunFilterStartTime(after_=started))
            return await api.read_flow_runs(flow_run_filter=window, limit=200)

    return asyncio.run(read())


def run_flow(cs: CellState, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a flow to its final state (never raising: a failed run is evidence, not an error of the test)."""
    try:
        state = fn(*args, return_state=True, **kwargs)
    except Exception as error:  # a crash of the run itself is recorded, then judged
        cs.problem(f"{getattr(fn, 'name', fn)} raised {type(error).__name__}: {str(error)[:300]}")
        state = None
    cs.states.append(state)
    return state


def review_retrying_everything(cs: CellState, credentials: Any, database_url: str) -> Any:
    """review_failed_operations, paused for real, answered by retrying every pending dead letter."""
    from prefect.flow_runs import resume_flow_run

    from flows import review_failed_operations
    from store import dead_letters

    pending = [r["id"] for r in rows_of(database_url, dead_letters) if r["status"] == "pending"]
    out: list[Any] = []

    def run() -> None:
        out.append(run_flow(cs, review_failed_operations, credentials, database_url=database_url,
                            poll_seconds=1, timeout_minutes=3))  # fmt: skip

    begun = datetime.now(UTC) - timedelta(seconds=1)
    thread = threading.Thread(target=run, daemon=True, name="matrix-review")
    thread.start()
    if pending:
        paused = None
        deadline = time.monotonic() + 90
        while paused is None and thread.is_alive() and time.monotonic() < deadline:
            paused = next((r for r in flow_runs_since(begun) if r.state and r.state.is_paused()), None)
            if paused is None:
                time.sleep(0.3)
        if paused is None:
            cs.problem(f"the review never paused with {len(pending)} dead letter(s) pending")
        else:
            offered = [r["id"] for r in rows_of(database_url, dead_letters) if r["status"] == "pending"]
            resume_flow_run(paused.id, run_input={
                "reviewer": "fault-matrix",
                "decisions": [{"dead_letter_id": i, "action": "retry"} for i in offered],
            })  # fmt: skip
    thread.join(timeout=240)
    if thread.is_alive():
        cs.problem("the review run did not end within 4 minutes of its answer")
    return out[0] if out else None


# ---------------------------------------------------------------------------- checks shared by both flows


def check_not_stuck(cs: CellState, database_url: str) -> None:
    from store import sync_state

    runs = flow_runs_since(cs.started - timedelta(seconds=1))
    cs.runs = len(runs)
    for run in runs:
        if run.state is None or not run.state.is_final():
            cs.stuck += 1
            cs.problem(f"flow run {run.name} ({run.flow_id}) is stuck in {run.state.type if run.state else None}")
    for row in rows_of(database_url, sync_state):
        if row.get("pass_id"):
            cs.stuck += 1
            cs.problem(f"sync_state {row['name']!r} still has pass {row['pass_id'][:8]} under way "
                       f"(next page {row['next_page']})")  # fmt: skip


def check_pending_letters(cs: CellState, database_url: str) -> None:
    """After the replay with the faults cleared, only letters about poison/forbidden data may stay pending."""
    from store import dead_letters

    letters = rows_of(database_url, dead_letters)
    cs.letters = len(letters)
    for letter in letters:
        if letter["status"] != "pending":
            continue
        cs.left += 1
        if letters_about([letter], *cs.lenient):
            continue
        cs.stuck += 1
        cs.problem(f"dead letter {letter['id']} ({letter['operation']} on {letter['target']}) still pending after "
                   f"the replay: {letter['error_class']}: {str(letter['error_message'])[:160]}")  # fmt: skip


def final_states_ok(cs: CellState, last: Any) -> None:
    if last is None or not last.is_completed():
        cs.problem(f"the last run (faults cleared) did not complete: "
                   f"{getattr(last, 'type', None)} {getattr(last, 'message', '')!s:.300}")  # fmt: skip


# ---------------------------------------------------------------------------- the table


RESULTS: list[dict[str, Any]] = []


def record_result(cell: Cell, cs: CellState, seconds: float) -> None:
    row = {
        "flow": cell.flow, "cell": cell.name, "faults": cell.describe(), "injected": cs.faults_injected,
        "runs": cs.runs, "records": cs.records, "lost": cs.lost, "duplicated": cs.duplicated, "wrong": cs.wrong,
        "stuck": cs.stuck, "letters": cs.letters, "left": cs.left, "result": "ok" if not cs.problems else "FAIL",
        "seconds": round(seconds, 1),
    }  # fmt: skip
    RESULTS[:] = [r for r in RESULTS if (r["flow"], r["cell"]) != (cell.flow, cell.name)] + [row]


def render_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    columns = ["flow", "cell", "faults", "injected", "runs", "records", "lost", "duplicated", "wrong", "stuck",
               "letters", "left", "result", "seconds"]  # fmt: skip
    titles = {"faults": "faults (settings)", "injected": "faults injected", "letters": "dead letters",
              "left": "left pending"}
    widths = {c: max(len(titles.get(c, c)), *(len(str(r[c])) for r in rows)) for c in columns}
    line = "  ".join(titles.get(c, c).ljust(widths[c]) for c in columns)
    out = [line, "  ".join("-" * widths[c] for c in columns)]
    out += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    total = {c: sum(r[c] for r in rows) for c in ("injected", "runs", "records", "lost", "duplicated", "wrong",
                                                  "stuck", "letters", "left")}  # fmt: skip
    failed = sum(r["result"] != "ok" for r in rows)
    out.append(f"cells {len(rows)} ({failed} failing), faults injected {total['injected']}, runs {total['runs']}, "
               f"records {total['records']}, lost {total['lost']}, duplicated {total['duplicated']}, "
               f"wrong {total['wrong']}, stuck {total['stuck']}, dead letters {total['letters']} "
               f"({total['left']} left pending)")  # fmt: skip
    return "\n".join(out)


def conclude(cell: Cell, cs: CellState, began: float) -> None:
    """Record the cell's row in the table, then fail the test with every problem found."""
    record_result(cell, cs, time.monotonic() - began)
    assert not cs.problems, f"{cell.id}: {len(cs.problems)} problem(s):\n- " + "\n- ".join(cs.problems)


@pytest.fixture(scope="module", autouse=True)
def print_the_matrix(request):
    """After a matrix module (which imports this fixture): its table, printed and kept in tests/.matrix-<flow>.txt."""
    before = len(RESULTS)
    yield
    rows = RESULTS[before:]
    if not rows:
        return
    path = TABLES / f".matrix-{rows[0]['flow']}.txt"
    table = render_table(rows)
    path.write_text(table + "\n")
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
        print(f"\n\nFault matrix ({path.relative_to(TABLES.parent)}):\n" + table)
