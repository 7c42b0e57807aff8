"""`make bench`'s analytics section: sync_analytics at SpotDraft's quota, rows per second, requests, and memory.

For each size (10,000 and 100,000 contracts by default) a sandbox process with a rate limit of 50 requests/s
(which the client is not told) is seeded and warmed up (its analytics database built, which is the sandbox's
cost, not ours); then one child process runs `flows.sync_analytics` over the eight allowlisted tables against the
shared local Prefect server, and reports its wall time (the flow call alone), the requests the flow counted and
its peak RSS. The sandbox counts the requests it answered. Peak memory must stay flat in the table's size: rows
are streamed page by page into the database, so 100,000 rows should cost no more than 1.2x what 10,000 do.

    python -m tools.bench --only analytics                                  both sizes
    python -m tools.bench --only analytics --analytics-rows 10000,100000 --analytics-limit 50
    python -m tools.bench_analytics --child URL DB RESULT                    one load (the section runs it)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ID_ENV, SECRET_ENV = "BENCH_CLIENT_ID", "BENCH_CLIENT_SECRET"  # the credentials reach the child off its command line
DEFAULT_ROWS = (10_000, 100_000)
DEFAULT_LIMIT = 50.0
FLAT = 1.2  # peak RSS at the largest size over the smallest, at most
QUERY_PATH = "/api/v2.1/public/analytics/query/"


def child(base_url: str, db: Path, result: Path) -> int:
    """One load, in this process: the flow call timed, peak RSS read after it."""
    from blocks import SpotDraftCredentials
    from flows import sync_analytics
    from tools.prefect_server import flush_prefect_workers

    credentials = SpotDraftCredentials(client_id=os.environ[ID_ENV], client_secret=os.environ[SECRET_ENV],
                                       base_url=base_url)
    started = time.perf_counter()
    state = sync_analytics(credentials, database_url=f"sqlite:///{db}", return_state=True)
    wall = time.perf_counter() - started
    summary = state.result() if state.is_completed() else {}
    flush_prefect_workers()
    out = {"wall_s": wall, "state": state.name, "message": state.message, "rows": summary.get("rows"),
           "contracts": (summary.get("tables") or {}).get("contracts", {}).get("rows"),
           "requests": summary.get("requests"),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    result.write_text(json.dumps(out))
    return 0 if state.name == "Completed" else 1


def one(rows: int, limit: float, prefect_env: dict[str, str], work: Path) -> dict:
    import httpx

    from sandbox import Faults, SandboxProcess

    work.mkdir(parents=True, exist_ok=True)
    with SandboxProcess(contracts=rows, seed=1, faults=Faults(rate_limit=limit), startup_timeout=600) as sb:
        warm = httpx.post(sb.base_url + QUERY_PATH, json={"query": "SELECT COUNT(*) AS n FROM contracts"},
                          headers=sb.headers, timeout=600)  # builds the sandbox's database before the clock starts
        warm.raise_for_status()
        time.sleep(2)  # the rate limit's bucket refills after the warm-up request
        sb.reset_log()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTDRAFT_", "PREFECT_"))}
        env.update({**prefect_env, ID_ENV: sb.client_id, SECRET_ENV: sb.client_secret,
                    "PREFECT_HOME": str(work / "prefect-home"), "PREFECT_LOGGING_LEVEL": "WARNING"})
        result = work / "result.json"
        done = subprocess.run([sys.executable, "-m", "tools.bench_analytics", "--child", sb.base_url,
                               str(work / "analytics.db"), str(result)], cwd=REPO, env=env, timeout=3600,
                              capture_output=True, text=True)
        answered = [r for r in sb.request_log("POST") if r["path"] == QUERY_PATH]  # records as dicts, over HTTP
    out = json.loads(result.read_text()) if result.exists() else {"state": "crashed", "message": done.stderr[-2000:]}
    out.update({"seeded": rows, "limit": limit, "server_requests": len(answered),
                "throttled": sum(r["status"] == 429 for r in answered)})
    return out


def run(prefect_env: dict[str, str], root: Path, sizes: list[int] | None = None, limit: float = DEFAULT_LIMIT) -> bool:
    """Every size in turn; prints the table. False when a load failed, lost rows, or memory was not flat."""
    sizes = sorted(sizes or DEFAULT_ROWS)
    print(f"sync_analytics, the 8 allowlisted tables, sandbox limited to {limit:g} requests/s (not told):", flush=True)
    print("| contracts | wall s | rows/s | requests (flow / server) | 429s | peak RSS MB | state |")
    print("|---|---|---|---|---|---|---|")
    results = []
    for rows in sizes:
        out = one(rows, limit, prefect_env, root / f"analytics-{rows}")
        results.append(out)
        rate = out["rows"] / out["wall_s"] if out.get("rows") and out.get("wall_s") else 0
        print(f"| {rows:,} | {out.get('wall_s', 0):.1f} | {rate:,.0f} | {out.get('requests')} / "
              f"{out['server_requests']} | {out['throttled']} | {out.get('peak_rss_mb', 0):.0f} | {out['state']} |",
              flush=True)
    ok = all(o["state"] == "Completed" and o.get("contracts") == o["seeded"] for o in results)
    if len(results) > 1 and ok:
        ratio = results[-1]["peak_rss_mb"] / results[0]["peak_rss_mb"]
        print(f"peak RSS at {sizes[-1]:,} contracts / at {sizes[0]:,}: {ratio:.2f}x (flat: at most {FLAT}x)")
        ok = ratio <= FLAT
    if not ok:
        print("analytics: a load failed, stored fewer contracts than seeded, or memory grew with the table:",
              json.dumps(results, default=str)[:3000], file=sys.stderr)
    return ok


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])))
    print(__doc__)
    sys.exit(2)
