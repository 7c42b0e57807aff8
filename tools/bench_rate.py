"""The sync at a quota it is not told: ours against a naive sequential client and dlt's rest_api.

For every case (a quota shape of tools/quota_shapes.py at a limit of L requests/s, a latency, with or
without Retry-After, N contracts) and every tool, a fresh sandbox process (`Case.faults()`, seed 1) is
started, so each load begins with a full quota and sees no other load's traffic; the load runs in a
child process of its own (`tools/bench_load.py`) into a fresh SQLite file; then the sandbox's request
log gives the requests, the 429s and the time from the first request to the last, the Prefect API the
task runs of our flow run, and the SQLite file what was stored. No tool is told the limit or the shape,
except the two-process row (`ours x2`), whose two sync processes share the sandbox and its credentials
with SPOTDRAFT_RATE_LIMIT=L. The naive client is capped (`naive_cap_s`): it stops, keeping what it read.

`run()` prints one table (one row per case and tool, then footnotes), writes it as JSON when asked,
and returns False when any load failed or stored fewer contracts (with key pointers) than seeded.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sandbox import SandboxProcess
from tools.bench_load import SECRET_ENV
from tools.bench_rate_table import COLUMNS, Row, footnotes, render
from tools.prefect_server import stop_process_group
from tools.quota_shapes import Case, ideal_span_s, requests_needed

REPO = Path(__file__).resolve().parents[1]
SEED = 1
TOOLS = ("ours", "naive", "dlt", "ours2")
DEFAULT_TOOLS = ("ours", "naive", "dlt")
LABELS = {"ours": "ours", "naive": "naive", "dlt": "dlt rest_api", "ours2": "ours x2 (shared limit)"}
NAIVE_CAP_S = 60.0  # a naive load stops after this: at 300 ms it would take many minutes

# For the time estimate only: requests in flight (the sync's default concurrency, dlt's parallelized
# pool), a ceiling the loads reached on 2 cores, and the start-up of each load.
_IN_FLIGHT = {"ours": 64, "naive": 1, "dlt": 5, "ours2": 128}
_CPU_CEILING = {"ours": 140.0, "naive": 1000.0, "dlt": 90.0, "ours2": 280.0}
_START_S = {"ours": 12.0, "naive": 2.0, "dlt": 5.0, "ours2": 14.0}


def estimate_s(case: Case, tool: str, naive_cap_s: float | None = NAIVE_CAP_S) -> float:
    needed = requests_needed(case.n) * (2 if tool == "ours2" else 1)
    ceiling = min(_CPU_CEILING[tool], _IN_FLIGHT[tool] / (case.latency_ms / 1000 + 0.003))
    seconds = needed / min(case.limit, ceiling)
    if tool == "naive" and naive_cap_s is not None:
        seconds = min(seconds, naive_cap_s)
    return seconds + _START_S[tool]


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


@dataclass(frozen=True)
class ServerLog:
    """What the sandbox saw: `total` requests; of the records its bounded log kept (all of them when
    `complete`), the 429s, the rest, the time of the first (epoch seconds) and the time to the last."""

    total: int
    throttled: int
    answered: int
    first_at: float | None
    span_s: float | None
    complete: bool


def server_log(log: dict[str, Any]) -> ServerLog:
    """The sandbox's request log (its admin `GET requests` answer) summed up."""
    records = log["requests"]
    times = [float(r["time"]) for r in records]
    throttled = sum(1 for r in records if r.get("status") == 429)
    span = max(times) - min(times) if len(times) > 1 else None
    return ServerLog(int(log["total"]), throttled, len(records) - throttled, min(times, default=None), span,
                     len(records) == int(log["total"]))


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


def run_one(case: Case, tool: str, prefect_env: dict[str, str], root: Path, timeout_s: float,
            naive_cap_s: float | None = NAIVE_CAP_S) -> Row:  # fmt: skip
    row = Row(case, tool, LABELS[tool])
    work = root / f"{case.shape}-l{case.limit:g}-{case.latency_ms:g}ms-{'ra' if case.retry_after else 'nora'}" \
                  f"-n{case.n}-{tool}"
    work.mkdir(parents=True, exist_ok=True)
    with SandboxProcess(contracts=case.n, seed=SEED, faults=case.faults()) as sb:
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
            if tool == "naive" and naive_cap_s is not None:
                argv += ["--max-seconds", f"{naive_cap_s:g}"]
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
            seen = server_log(sb.admin("GET", "requests"))
            monotonic_lag = time.time() - time.monotonic()  # the log's clock less the quota's (one machine)
        except (httpx.HTTPError, ValueError, KeyError) as error:
            seen = None
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
    row.capped = any(r.get("capped") for r in results)

    if len(results) == len(specs):
        row.wall_s = max(r["ended_at"] for r in results) - min(r["started_at"] for r in results) \
            if len(results) > 1 else results[0]["wall_s"]
        row.peak_rss_mb = max(r["peak_rss_kib"] for r in results) / 1024
    if seen is not None:
        row.requests, row.throttled, row.answered = seen.total, seen.throttled, seen.answered
        row.span_s, row.log_complete = seen.span_s, seen.complete
        row.share_429 = seen.throttled / (seen.throttled + seen.answered) if seen.total else 0.0
        if seen.span_s:
            row.efficiency = seen.answered / case.limit / seen.span_s
        if seen.first_at is not None and seen.complete:
            row.ideal_span_s = ideal_span_s(case, seen.answered, seen.first_at - monotonic_lag)
    if kind == "ours":
        counts = [_task_runs(prefect_env["PREFECT_API_URL"], r["flow_run_id"]) for r in results if r.get("flow_run_id")]
        row.task_runs = sum(counts) if counts and None not in counts else None

    stored = [stored_rows(tool, log_path.parent / "load.db", expected) for _, log_path, _, _ in specs]
    row.stored = min((s[0] for s in stored), default=0)
    row.with_key_pointers = min((s[1] for s in stored), default=0)
    for i, (count, with_kp) in enumerate(stored):
        who = f"{tool}-{i + 1}" if len(stored) > 1 else tool
        if count < case.n and not row.capped:
            row.problems.append(f"{who} stored {count} of {case.n} contracts")
        elif with_kp < count:
            row.problems.append(f"{who} stored key pointers of {with_kp} of {count} contracts")
    row.ok = not row.problems
    return row


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


def describe_plan(cases: list[Case], tools: list[str], naive_cap_s: float | None = NAIVE_CAP_S) -> str:
    """What the section will run and about how long it will take (printed before anything starts)."""
    total = sum(estimate_s(case, tool, naive_cap_s) for case in cases for tool in tools)
    longest = max(((estimate_s(c, t, naive_cap_s), c, t) for c in cases for t in tools), key=lambda x: x[0])
    cap = "" if naive_cap_s is None or "naive" not in tools else f", naive capped at {naive_cap_s:g} s"
    return (f"rate-limit section: {len(cases)} case(s) x {len(tools)} tool(s) "
            f"({', '.join(LABELS[t] for t in tools)}{cap}): estimated {_duration(total)} (the longest row, "
            f"{LABELS[longest[2]]} at {longest[1].name}, about {_duration(longest[0])})\n"
            + "\n".join(f"  {case.name}" for case in cases))


def run(cases: list[Case], tools: list[str], prefect_env: dict[str, str], root: Path,
        json_path: Path | None = None, naive_cap_s: float | None = NAIVE_CAP_S) -> bool:  # fmt: skip
    plan = [(case, tool) for case in cases for tool in tools]
    rows: list[Row] = []
    started = time.monotonic()
    for case, tool in plan:
        guess = estimate_s(case, tool, naive_cap_s)
        print(f"  {case.name:<48} {LABELS[tool]:<22} (about {guess:.0f} s) ...", end=" ", flush=True)
        row = run_one(case, tool, prefect_env, root, max(300.0, 6 * guess), naive_cap_s)
        rows.append(row)
        status = "FAILED" if not row.ok else "capped" if row.capped else "ok"
        print(f"{status} in {row.wall_s or 0:.1f} s", flush=True)
    print(f"(the section took {time.monotonic() - started:.0f} s)\n")
    print(render(rows, SEED, naive_cap_s), flush=True)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": _commit(),
            "command": ["python", "-m", "tools.bench", *sys.argv[1:]], "cpus": os.cpu_count(),
            "seed": SEED, "naive_cap_s": naive_cap_s, "columns": list(COLUMNS),
            "rows": [r.as_json() for r in rows], "footnotes": footnotes(rows, SEED, naive_cap_s),
        }, indent=2, default=str))
        print(f"\ntable written to {json_path}")
    return all(r.ok for r in rows)
