"""How long a change in SpotDraft takes to reach its row in the database, through the webhook path.

The production path on a real Prefect server (SQLite or PostgreSQL, as tools/bench.py started it): a sandbox
process (SpotDraft), the block type registered and a credentials document 'spotdraft', one full sync into a fresh
SQLite file, the receiver subscribed with flows.register_webhook and started as `python -m webhooks --key-block
spotdraft-webhook-key --database-url ...`, and what runs the syncs: each executor of
tools/bench_webhooks_executors.py in turn (the receiver's own sync worker by default; a separate sync worker;
the deployment's trigger with a process worker, as before; a served deployment).

What is measured. Every contract starts as DRAFT, and is already in the database (the full sync first), as a
contract is when it changes in production. A change is one lifecycle step, `send` (DRAFT -> REDLINING), each to
a different contract, so no two runs share a contract and the per-contract debounce merges nothing. Its latency
runs from the change (the contract's last_updated_on, stamped by the sandbox) to the write of its row showing
REDLINING (contracts.synced_at; committed a few milliseconds later). Every clock is this machine's.

Two loads:
- steady: a new change whenever fewer than IN_FLIGHT (3) changes still wait for their row. A fixed rate either
  idles a fast machine or queues a slow one, so the stream paces itself: a few changes overlap, as in a busy
  workspace, and no queue builds up (the report compares the first third's median with the last third's). The
  median, p95 and max come from this load.
- burst: BURST (20) changes at once, a bulk action in SpotDraft; the last row shows how long such a queue takes
  to drain.

Where the time goes, per change, from the sandbox's delivery log and the run's states in Prefect:
  change -> delivery posted         the sandbox's per-URL lane takes it
  posted -> answered                the receiver verifies and stores it
  answered -> flow run created      the sync worker's settle (1 s) and poll; or Prefect's trigger
  created -> submitted              a worker's poll (in-process runs are Pending when created)
  submitted -> running              a new Python process (worker, serve) or the engine's start (in-process)
  running -> row written            ticket, turn, the flow's settle_seconds (0 for the sync worker, which
                                    settled already; 2 s for the trigger's runs), read, write
The run completes after its row is written; that tail is shown, not counted.

The stack is tools/bench_webhooks_stack.py; the changes and their moments, tools/bench_webhooks_changes.py.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from pathlib import Path

from tools.bench_webhooks_changes import MOMENTS, ROW_TIMEOUT_S, STAGES, TAIL, Change, measure
from tools.bench_webhooks_executors import settle_seconds
from tools.bench_webhooks_stack import webhook_stack

DELIVERIES = 100
IN_FLIGHT = 3
BURST = 20


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
        print(f"    the settle ({settle:g} s) is {settle / median:.0%} of the median")
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


def run(prefect_env: dict[str, str], home: Path, deliveries: int = DELIVERIES,
        executors: tuple[str, ...] = ("receiver",), prefect_database: str = "SQLite",
        sync_concurrency: int | None = None) -> bool:
    """The section, once per executor: `deliveries` steady changes, then a burst of BURST; False when one was lost."""
    ok = True
    for executor in executors:
        ok = run_one(prefect_env, home / executor, deliveries, executor, prefect_database, sync_concurrency) and ok
    return ok


def run_one(prefect_env: dict[str, str], home: Path, deliveries: int, executor: str, prefect_database: str,
            sync_concurrency: int | None = None) -> bool:
    began = time.monotonic()
    home.mkdir(parents=True, exist_ok=True)
    at_once = f" ({sync_concurrency} at once)" if sync_concurrency and executor in ("receiver", "sync-worker") else ""
    print(f"webhooks, syncs run by '{executor}'{at_once}, Prefect server on {prefect_database}: a change in SpotDraft "
          f"-> its row in SQLite; {deliveries} changes at most {IN_FLIGHT} in flight, then {BURST} at once:",
          flush=True)
    with webhook_stack(prefect_env, home, deliveries + BURST, executor, sync_concurrency) as (sb, env, database_url,
                                                                                               ids):
        print(f"  stack ready in {time.monotonic() - began:.0f} s; load average {load_average()}", flush=True)
        settle = settle_seconds(executor)
        steady = measure(sb, env, database_url, ids[:deliveries], IN_FLIGHT)
        ok = report(f"steady: {deliveries} changes, each to its own contract, a new one whenever fewer than "
                    f"{IN_FLIGHT} rows are still to come", steady, settle, trend=True)
        burst = measure(sb, env, database_url, ids[deliveries:], BURST)
        ok = report(f"burst: {BURST} changes at once, each to its own contract", burst, settle, trend=False) and ok
        if every := [c.latency for c in steady + burst if c.latency is not None]:
            print(f"  all {len(steady) + len(burst)} changes: median {statistics.median(every):.2f} s, "
                  f"p95 {percentile(every, 0.95):.2f} s, max {max(every):.2f} s")
    print(f"  the section took {time.monotonic() - began:.0f} s; load average {load_average()} "
          f"(the figures are this machine's, shared with whatever else ran)")
    return ok
