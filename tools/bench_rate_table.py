"""The rate benchmark's rows and how they are printed: one table, its footnotes, the problems, JSON.

`tools/bench_rate.py` fills a `Row` per case and tool; this module only formats them.
"""

from __future__ import annotations

import textwrap
from dataclasses import asdict, dataclass, field
from typing import Any

from tools.quota_shapes import SHAPES, Case

TWO_PROCESS_TARGET = 0.01  # two sync processes with SPOTDRAFT_RATE_LIMIT, 429 share at most 1%


@dataclass
class Row:
    case: Case
    tool: str
    label: str
    ok: bool = False
    capped: bool = False  # a naive load stopped at its cap
    wall_s: float | None = None
    span_s: float | None = None  # the server's first to last request (of the records its log kept)
    ideal_span_s: float | None = None  # the least span the quota allows for the requests answered
    requests: int | None = None
    answered: int | None = None  # answered with anything but 429 (of the records kept)
    throttled: int | None = None  # 429s (of the records kept)
    log_complete: bool = True  # False when the sandbox's bounded log dropped records
    share_429: float | None = None
    efficiency: float | None = None
    task_runs: int | None = None
    peak_rss_mb: float | None = None
    stored: int | None = None  # distinct seeded contracts in the database
    with_key_pointers: int | None = None  # of them, with their key pointers
    problems: list[str] = field(default_factory=list)
    processes: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "processes"} | {"cells": cells(self)}


COLUMNS = ("shape", "limit/s", "latency ms", "Retry-After", "contracts", "tool", "wall s", "span s", "ideal s",
           "requests", "429s", "429 %", "efficiency", "task runs", "peak RSS MB", "stored / with key pointers",
           "status")
_LEFT = {0, 3, 5, 16}


def cells(row: Row) -> list[str]:
    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    cut = "" if row.log_complete else "*"  # over the records the sandbox's log kept
    case = row.case
    throttled = "-" if row.throttled is None else f"{'' if row.log_complete else '>='}{row.throttled:,}"
    share = num(None if row.share_429 is None else 100 * row.share_429, ".1f") + cut
    stored = "-" if row.stored is None else f"{row.stored:,} / {row.with_key_pointers:,}"
    status = "FAILED" if not row.ok else "capped" if row.capped else "ok"
    return [case.shape, f"{case.limit:g}", f"{case.latency_ms:g}", "yes" if case.retry_after else "no",
            f"{case.n:,}", row.label, num(row.wall_s, ".1f"), num(row.span_s, ".1f") + cut,
            num(row.ideal_span_s, ".1f"), num(row.requests, ","), throttled, share,
            num(row.efficiency, ".2f") + cut, "-" if row.task_runs is None else str(row.task_runs),
            num(row.peak_rss_mb, ".0f"), stored, status]  # fmt: skip


def footnotes(rows: list[Row], seed: int, naive_cap_s: float | None) -> list[str]:
    shapes = sorted({(r.case.shape, r.case.limit) for r in rows}, key=lambda s: (list(SHAPES).index(s[0]), s[1]))
    legend = "; ".join(f"{name} at {limit:g}/s = {SHAPES[name].describe(limit)}" for name, limit in shapes)
    notes = [
        f"Sandbox: the quota shape of the row per credential pair ({legend}); a 429 comes at once, with "
        "Retry-After in whole seconds (rounded up: '1' may mean 5 ms) where Retry-After is 'yes', without it "
        f"where 'no'; the latency is added to every other answer; seed {seed}; a fresh sandbox process for "
        "every row. No tool is told the limit or the shape, except 'ours x2': two sync processes at once on "
        "the same sandbox and credentials, each into its own SQLite file, with SPOTDRAFT_RATE_LIMIT=L.",
        "Requests, 429s and span are the sandbox's (its request log), not the clients'; span s = its first to "
        "its last request. '*' and '>=' where its bounded log dropped its oldest records: 429s then counts "
        "those kept, and 429 %, span and efficiency are over the records kept.",
        "Efficiency = requests answered other than 429 / L / span s: 1.00 uses the limit fully. A load "
        "that starts with a full quota can pass 1 by its first burst, on a fixed window by up to a whole "
        "window's requests. Ideal s: the least span the quota allows for as many answered requests, the "
        "first arriving when this load's did (on a fixed window, where in the window it fell): a client "
        "that knew the quota and sent each request the moment it would pass.",
        "Wall s: the load alone, measured inside its process from just before the flow / pipeline / loop "
        "starts to its return (interpreter start and imports excluded); 'ours x2': first start to last end.",
        "Task runs: Prefect task runs of the flow run (both flow runs for 'ours x2'), read from the Prefect "
        "API; '-' where there is no Prefect. Peak RSS: the load process's ru_maxrss (the larger of the two "
        "for 'ours x2').",
        "Stored: the seeded contracts found in the load's SQLite file / of them with their key pointers "
        "(the lower of the two files for 'ours x2'); each must equal the contracts seeded, but for a "
        "capped load.",
        "ours = flows.sync_contracts(credentials, database_url=..., reference_data=False), defaults otherwise; "
        "naive = one httpx request at a time, sleeping Retry-After (1 s without it) on a 429"
        + (f", stopped after {naive_cap_s:g} s ('capped': its figures are those of the part it ran)"
           if naive_cap_s is not None else "")
        + "; dlt = rest_api with key_pointers a dependent resource, parallelized: True, into SQLite through "
        "dlt's sqlalchemy destination.",
    ]
    pairs = [r for r in rows if r.tool == "ours2" and r.share_429 is not None]
    if pairs:
        verdicts = ", ".join(f"{r.case.name} {100 * r.share_429:.1f}% "
                             f"({'met' if r.share_429 <= TWO_PROCESS_TARGET else 'missed'})" for r in pairs)
        notes.append(f"Target (printed, not asserted): 'ours x2' 429 share <= "
                     f"{100 * TWO_PROCESS_TARGET:.0f}%: {verdicts}.")
    return notes


def render(rows: list[Row], seed: int, naive_cap_s: float | None) -> str:
    table = [list(COLUMNS)] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = []
    for n, line in enumerate(table):
        lines.append("  ".join(c.ljust(w) if i in _LEFT else c.rjust(w)
                               for i, (c, w) in enumerate(zip(line, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    out = "\n".join(line.rstrip() for line in lines)
    problems = [f"  {r.label} at {r.case.name}: {p}" for r in rows for p in r.problems]
    out += "\n\n" + "\n".join(textwrap.fill(note, width=110, initial_indent=f"{i}. ", subsequent_indent="   ")
                               for i, note in enumerate(footnotes(rows, seed, naive_cap_s), 1))
    if problems:
        out += "\n\nProblems:\n" + "\n".join(problems)
    return out
