"""The sync at a rate limit: ours against a naive sequential client and dlt's rest_api.

For every case (N contracts, a limit of L requests/s) and every tool, a fresh sandbox process
(`Faults(rate_limit=L, p_latency=1.0, latency_ms=50)`, seed 1) is started, so each load begins with a
full token bucket and sees no other load's traffic; the load runs in a child process of its own
(`tools/bench_load.py`) into a fresh SQLite file; then the sandbox's request log gives the requests
and 429s, the Prefect API the task runs of our flow run, and the SQLite file what was stored.
No tool is told the limit, except the two-process row (`ours x2`), whose two sync processes share
the sandbox and its credentials with SPOTDRAFT_RATE_LIMIT=L.

`run()` prints one table (one row per case and tool, then footnotes), writes it as JSON when asked,
and returns False when any load failed or stored fewer contracts (with key pointers) than seeded.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sandbox import Faults, SandboxProcess
from tools.bench_load import PAGE_SIZE, SECRET_ENV
from tools.prefect_server import stop_process_group

REPO = Path(__file__).resolve().parents[1]
LATENCY_MS = 50
SEED = 1
TOOLS = ("ours", "naive", "dlt", "ours2")
LABELS = {"ours": "ours", "naive": "naive", "dlt": "dlt rest_api", "ours2": "ours x2 (shared limit)"}
DEFAULT_LIMITS = (20, 50, 200)
DEFAULT_CONTRACTS = (2_000, 20_000)
QUICK = {"contracts": (300,), "limits": (50,)}
TWO_PROCESS_TARGET = 0.01  # two sync processes with SPOTDRAFT_RATE_LIMIT, 429 share at most 1%

# Rough throughput ceilings for the time estimate only (requests/s at 50 ms per answer).
_CEILING = {"ours": 140.0, "naive": 1000 / (LATENCY_MS + 3), "dlt": 90.0, "ours2": 280.0}
_START_S = {"ours": 12.0, "naive": 2.0, "dlt": 5.0, "ours2": 14.0}


@dataclass(frozen=True)
class Case:
    contracts: int
    limit: float

    @property
    def name(self) -> str:
        return f"N={self.contracts:,} L={self.limit:g}/s"


@dataclass
class Row:
    contracts: int
    limit: float
    tool: str
    label: str
    ok: bool = False
    wall_s: float | None = None
    requests: int | None = None
    answered: int | None = None  # answered with anything but 429
    throttled: int | None = None  # 429s
    throttled_exact: bool = True  # False when the sandbox's bounded log dropped records
    share_429: float | None = None
    efficiency: float | None = None
    task_runs: int | None = None
    peak_rss_mb: float | None = None
    stored: int | None = None  # distinct seeded contracts in the database
    with_key_pointers: int | None = None  # of them, with their key pointers
    problems: list[str] = field(default_factory=list)
    processes: list[dict[str, Any]] = field(default_factory=list)


def parse_list(text: str, kind=float) -> tuple:
    values = tuple(kind(v.replace("_", "").replace(",", "")) for v in text.split(",") if v.strip())
    if not values:
        raise ValueError("empty list")
    return values


def cases_for(contracts: tuple[int, ...], limits: tuple[float, ...]) -> list[Case]:
    return [Case(n, float(limit)) for n in contracts for limit in limits]


def requests_needed(contracts: int) -> int:
    """One list request per page, one more that comes back empty or short, one per contract."""
    return contracts + math.ceil(contracts / PAGE_SIZE) + 1


def estimate_s(case: Case, tool: str) -> float:
    needed = requests_needed(case.contracts) * (2 if tool == "ours2" else 1)
    return needed / min(case.limit, _CEILING[tool]) + _START_S[tool]


# ---------------------------------------------------------------------------- children


def _child_env(prefect_env: dict[str, str], secret: str, work: Path, rate_limit: float | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTDRAFT_", "PREFECT_", "DLT_", "RUNTIME__"))}
    env.update(prefect_env)
    env.update({
        SECRET_ENV: secret,
        "PREFECT_HOME": str(work / "prefect-home"),  # the server is shared, a client's local state is not
        "PYTHONUNBUFFERED": "1",
        "DLT_DATA_DIR": str(work / "dlt-data"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    })
    if rate_limit is not None:
        env["SPOTDRAFT_RATE_LIMIT"] = f"{rate_limit:g}"
    return env


@contextlib.contextmanager
def _children(specs: list[tuple[str, Path, dict[str, str], list[str]]]) -> Iterator[list[subprocess.Popen]]:
    """Start every child at once (its own session and log file); stop whatever is left, also on failure."""
    processes: list[subprocess.Popen] = []
    logs = []
    try:
        for _name, log_path, env, argv in specs:
            log = open(log_path, "wb")  # noqa: SIM115 - closed below
            logs.append(log)
            processes.append(subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, start_new_session=True))
        yield processes
    finally:
        for process in processes:
            stop_process_group(process, grace=5.0)
        for log in logs:
            log.close()


def _tail(path: Path, lines: int = 10) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


# ---------------------------------------------------------------------------- evidence


def _server_counts(sb: SandboxProcess) -> tuple[int, int, bool]:
    """(requests, 429s, exact) from the sandbox's request log: `total` counts every request, the
    records (bounded, oldest dropped) give the statuses."""
    log = sb.admin("GET", "requests")
    records = log["requests"]
    throttled = sum(1 for r in records if r.get("status") == 429)
    return int(log["total"]), throttled, len(records) == int(log["total"])


def _task_runs(api_url: str, flow_run_id: str, settle_s: float = 30.0) -> int | None:
    """Task runs of a flow run, once the count has stopped moving for 2 s (they arrive as events)."""
    last, stable_since, deadline = None, time.monotonic(), time.monotonic() + settle_s
    while time.monotonic() < deadline:
        try:
            response = httpx.post(f"{api_url}/task_runs/count", timeout=10,
                                  json={"flow_runs": {"id": {"any_": [flow_run_id]}}})
            response.raise_for_status()
            count = int(response.json())
        except (httpx.HTTPError, ValueError):
            count = None
        if count != last:
            last, stable_since = count, time.monotonic()
        elif count and time.monotonic() - stable_since >= 2.0:
            return count
        time.sleep(0.5)
    return last


def _query(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.Error:  # no such table: nothing of that kind was stored
        return []
    finally:
        conn.close()


def stored_rows(tool: str, db: Path, expected: set[str]) -> tuple[int, int]:
    """How many of the seeded contracts (by composite id) the database holds, and how many of those
    with a non-empty list of key pointers."""
    if not db.exists():
        return 0, 0
    if tool == "dlt":  # key pointers are rows of their own table, tied to the contract by _contracts_id
        with_kp = {row[0] for row in _query(db, "SELECT DISTINCT _contracts_id FROM key_pointers")}
        rows = [(cid, id_ in with_kp) for cid, id_ in _query(db, "SELECT composite_id, id FROM contracts")]
    else:
        live = " WHERE deleted_at IS NULL" if tool in ("ours", "ours2") else ""
        rows = _query(db, "SELECT composite_id, coalesce(json_array_length(key_pointers), 0) > 0 "
                          f"FROM contracts{live}")  # fmt: skip
    found = {cid: bool(has) for cid, has in rows if cid in expected}
    return len(found), sum(found.values())


# ---------------------------------------------------------------------------- one load


def run_one(case: Case, tool: str, prefect_env: dict[str, str], root: Path, timeout_s: float) -> Row:
    row = Row(case.contracts, case.limit, tool, LABELS[tool])
    work = root / f"n{case.contracts}-l{case.limit:g}-{tool}"
    work.mkdir(parents=True, exist_ok=True)
    faults = Faults(rate_limit=case.limit, p_latency=1.0, latency_ms=LATENCY_MS)
    with SandboxProcess(contracts=case.contracts, seed=SEED, faults=faults) as sb:
        expected = {c["composite_id"] for c in sb.snapshot()}
        assert sb.base_url is not None
        kind = "ours" if tool == "ours2" else tool
        specs = []
        for i in range(2 if tool == "ours2" else 1):
            pwork = work / f"p{i + 1}"
            pwork.mkdir(exist_ok=True)
            env = _child_env(prefect_env, sb.client_secret, pwork, case.limit if tool == "ours2" else None)
            argv = [sys.executable, "-m", "tools.bench_load", kind, "--base-url", sb.base_url,
                    "--client-id", sb.client_id, "--db", str(pwork / "load.db"), "--work", str(pwork),
                    "--result", str(pwork / "result.json")]  # fmt: skip
            specs.append((f"{tool}-{i + 1}", pwork / "load.log", env, argv))
        deadline = time.monotonic() + timeout_s
        codes: list[int | None] = []
        with _children(specs) as processes:
            for process in processes:
                try:
                    codes.append(process.wait(timeout=max(1.0, deadline - time.monotonic())))
                except subprocess.TimeoutExpired:
                    codes.append(None)
        try:
            row.requests, row.throttled, row.throttled_exact = _server_counts(sb)
        except (httpx.HTTPError, ValueError, KeyError) as error:
            row.problems.append(f"the sandbox's request log could not be read: {error!r}")

    results = []
    for code, (name, log_path, _, _) in zip(codes, specs, strict=True):
        try:
            result = json.loads((log_path.parent / "result.json").read_text())
        except (OSError, ValueError):
            result = {}
        if code is None:
            row.problems.append(f"{name} still running after {timeout_s:.0f} s, stopped")
        elif result.get("error"):
            lines = [line.strip() for line in result["error"].splitlines() if line.strip()]
            row.problems.append(f"{name} failed: {lines[-1]}")
        elif code != 0 or not result:
            row.problems.append(f"{name} exited with {code}{'' if result else ', no result'}; its log ends:\n"
                                + textwrap.indent(_tail(log_path), "    | "))
        if result.get("wall_s") is not None:
            results.append(result)
    row.processes = results

    if len(results) == len(specs):
        row.wall_s = max(r["ended_at"] for r in results) - min(r["started_at"] for r in results) \
            if len(results) > 1 else results[0]["wall_s"]
        row.peak_rss_mb = max(r["peak_rss_kib"] for r in results) / 1024
    if row.requests is not None and row.throttled is not None:
        row.answered = row.requests - row.throttled
        row.share_429 = row.throttled / row.requests if row.requests else 0.0
        if row.wall_s:
            row.efficiency = row.answered / case.limit / row.wall_s
    if kind == "ours":
        counts = [_task_runs(prefect_env["PREFECT_API_URL"], r["flow_run_id"]) for r in results if r.get("flow_run_id")]
        row.task_runs = sum(counts) if counts and None not in counts else None

    stored = [stored_rows(tool, log_path.parent / "load.db", expected) for _, log_path, _, _ in specs]
    row.stored = min((s[0] for s in stored), default=0)
    row.with_key_pointers = min((s[1] for s in stored), default=0)
    for i, (count, with_kp) in enumerate(stored):
        who = f"{tool}-{i + 1}" if len(stored) > 1 else tool
        if count < case.contracts:
            row.problems.append(f"{who} stored {count} of {case.contracts} contracts")
        elif with_kp < case.contracts:
            row.problems.append(f"{who} stored key pointers of {with_kp} of {case.contracts} contracts")
    row.ok = not row.problems
    return row


# ---------------------------------------------------------------------------- output


COLUMNS = ("contracts", "limit/s", "tool", "wall s", "requests", "429s", "429 %", "efficiency", "task runs",
           "peak RSS MB", "stored / with key pointers", "status")


def _cells(row: Row) -> list[str]:
    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    throttled = "-" if row.throttled is None else f"{'' if row.throttled_exact else '>='}{row.throttled:,}"
    share = "-" if row.share_429 is None else f"{100 * row.share_429:.1f}"
    stored = "-" if row.stored is None else f"{row.stored:,} / {row.with_key_pointers:,}"
    return [f"{row.contracts:,}", f"{row.limit:g}", row.label, num(row.wall_s, ".1f"),
            num(row.requests, ","), throttled, share, num(row.efficiency, ".2f"),
            "-" if row.task_runs is None else str(row.task_runs), num(row.peak_rss_mb, ".0f"),
            stored, "ok" if row.ok else "FAILED"]  # fmt: skip


def footnotes(rows: list[Row]) -> list[str]:
    notes = [
        f"Sandbox: a token bucket of L requests/s per credential pair (burst L, so every load starts with L "
        f"requests in hand; 429 with Retry-After in whole seconds), {LATENCY_MS} ms added to every answer that "
        f"is not a 429, seed {SEED}; a fresh sandbox process for every row. No tool is told L, except "
        "'ours x2': two sync processes at once on the same sandbox and credentials, each into its own SQLite "
        "file, with SPOTDRAFT_RATE_LIMIT=L.",
        "Requests and 429s are counted by the sandbox (its request log), not by the clients; '>=' where its "
        "bounded log dropped records.",
        "Wall s: the load alone, measured inside its process from just before the flow / pipeline / loop "
        "starts to its return (interpreter start and imports excluded); 'ours x2': first start to last end.",
        "Efficiency = (requests answered other than 429 / L) / wall s: 1.00 uses the limit fully "
        "(a short load can pass 1 on its initial burst).",
        "Task runs: Prefect task runs of the flow run (both flow runs for 'ours x2'), read from the Prefect "
        "API; '-' where there is no Prefect. Peak RSS: the load process's ru_maxrss (the larger of the two "
        "for 'ours x2').",
        "Stored: the seeded contracts found in the load's SQLite file / of them with their key pointers "
        "(the lower of the two files for 'ours x2'); each must equal N.",
        "ours = flows.sync_contracts(credentials, database_url=..., reference_data=False), defaults otherwise; "
        "naive = one httpx request at a time, sleeping Retry-After on a 429; dlt = rest_api with key_pointers "
        "a dependent resource, parallelized: True, into SQLite through dlt's sqlalchemy destination.",
    ]
    pairs = [r for r in rows if r.tool == "ours2" and r.share_429 is not None]
    if pairs:
        verdicts = ", ".join(f"{r.contracts:,}@{r.limit:g}/s {100 * r.share_429:.1f}% "
                             f"({'met' if r.share_429 <= TWO_PROCESS_TARGET else 'missed'})" for r in pairs)
        notes.append(f"Target (printed, not asserted): 'ours x2' 429 share <= "
                     f"{100 * TWO_PROCESS_TARGET:.0f}%: {verdicts}.")
    return notes


def render(rows: list[Row]) -> str:
    table = [list(COLUMNS)] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    left = {2, 11}
    lines = []
    for n, line in enumerate(table):
        lines.append("  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths,
                                                                                                      strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    out = "\n".join(line.rstrip() for line in lines)
    notes = footnotes(rows)
    problems = [f"  {r.label} at N={r.contracts:,} L={r.limit:g}/s: {p}" for r in rows for p in r.problems]
    out += "\n\n" + "\n".join(textwrap.fill(note, width=110, initial_indent=f"{i}. ", subsequent_indent="   ")
                               for i, note in enumerate(notes, 1))
    if problems:
        out += "\n\nProblems:\n" + "\n".join(problems)
    return out


# ---------------------------------------------------------------------------- entry


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _commit() -> str | None:
    """The commit measured, with "+dirty" when the work tree differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return git("rev-parse", "HEAD") + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def describe_plan(cases: list[Case], tools: list[str]) -> str:
    """What the section will run and about how long it will take (printed before anything starts)."""
    total = sum(estimate_s(case, tool) for case in cases for tool in tools)
    longest = max(((estimate_s(c, t), c, t) for c in cases for t in tools), key=lambda x: x[0])
    return (f"rate-limit section: {len(cases)} case(s) ({', '.join(c.name for c in cases)}) x {len(tools)} "
            f"tool(s) ({', '.join(LABELS[t] for t in tools)}), latency {LATENCY_MS} ms: estimated "
            f"{_duration(total)} (the longest row, {LABELS[longest[2]]} at {longest[1].name}, about "
            f"{_duration(longest[0])})")


def run(cases: list[Case], tools: list[str], prefect_env: dict[str, str], root: Path,
        json_path: Path | None = None) -> bool:  # fmt: skip
    plan = [(case, tool) for case in cases for tool in tools]
    rows: list[Row] = []
    started = time.monotonic()
    for case, tool in plan:
        guess = estimate_s(case, tool)
        print(f"  {case.name:<22} {LABELS[tool]:<24} (about {guess:.0f} s) ...", end=" ", flush=True)
        timeout = max(300.0, 6 * guess)
        row = run_one(case, tool, prefect_env, root, timeout)
        rows.append(row)
        print(f"{'ok' if row.ok else 'FAILED'} in {row.wall_s or 0:.1f} s", flush=True)
    print(f"(the section took {time.monotonic() - started:.0f} s)\n")
    print(render(rows), flush=True)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": _commit(),
            "command": ["python", "-m", "tools.bench", *sys.argv[1:]], "cpus": os.cpu_count(),
            "latency_ms": LATENCY_MS, "seed": SEED, "columns": list(COLUMNS),
            "rows": [{k: v for k, v in asdict(r).items() if k != "processes"} | {"cells": _cells(r)} for r in rows],
            "footnotes": footnotes(rows),
        }, indent=2))
        print(f"\ntable written to {json_path}")
    return all(r.ok for r in rows)
