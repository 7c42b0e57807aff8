"""`make bench`: figures; only a load that loses contracts fails it. Ratios measured in one run are what to compare.

1. The sandbox and the client's overhead: the same status GETs sent with a bare httpx.Client and with
   SpotDraftClient.call (validation, error typing, retry wrapper), against a sandbox process.
2. The sync: contracts per second into SQLite through a real local Prefect server, with the
   key-pointer calls of a page sequential and concurrent.
3. Workspace files: a large file up to and back from the signed storage URL, with the peak of
   Python memory (tracemalloc) during each, as a fraction of the file's size: streaming keeps it small.
4. The sync at a quota it is not told (tools/bench_rate.py, shapes in tools/quota_shapes.py): ours, a
   naive sequential client (capped in time) and dlt's rest_api against a sandbox enforcing a quota
   shape, with a latency, one table: efficiency (answered / limit / the server's first-to-last span),
   429 share and wall time per row. The exit status is non-zero when a load failed or stored fewer
   contracts than seeded; the speeds are printed only.
5. Webhooks (tools/bench_webhooks.py): a change in SpotDraft to its row in SQLite through the receiver,
   which stores it, and the sync worker that runs sync_contract for it (or another executor,
   --webhook-executors): median, p95, max and where the time goes, for a steady stream of changes and
   for a burst. The exit status is non-zero when a change never reached its row.
6. Analytics (tools/bench_analytics.py): sync_analytics at 50 requests/s, rows per second and requests for
   10,000 and 100,000 contracts, and peak memory at each (flat in the table's size: at most 1.2x). The exit
   status is non-zero when a load failed, stored fewer contracts than seeded, or memory was not flat.
7. The archive (tools/bench_archive.py): files per second, MB/s and peak memory above the baseline for 1,000
   files of 200 KB, 10 of 50 MB and one of 200 MB into an S3 server (moto) through s3fs. The exit status is
   non-zero when a file is missing or differs, or the 50 MB files cost more than 64 MB of memory.

    python -m tools.bench                          everything, the rate section's quota-shape matrix
                                                   (14 cases, about 40 minutes of it)
    python -m tools.bench --quick --only rate      one small rate case (about a minute; CI runs this)
    python -m tools.bench --only rate --shapes bucket-0.2s,fixed-1s --limits 50,200 --latency-ms 300
                                                   the cross product of the dimensions given
    python -m tools.bench --only rate --shapes bucket-0.2s --no-retry-after --tools ours,dlt --json out.json
    python -m tools.bench --only rate --cases bucket-1@50,fixed-60s@20,bucket-0.2s@50:300ms:no-ra
                                                   cases named one by one
    python -m tools.bench --only webhooks          100 changes, 3 in flight, then a burst of 20 (2-3 minutes)
    python -m tools.bench --only webhooks --prefect-database postgresql      the Prefect server on PostgreSQL
    python -m tools.bench --only webhooks --webhook-executors receiver,sync-worker,deployment,serve --deliveries 30
    python -m tools.bench --only analytics --analytics-rows 10000,100000     (3-6 minutes)
    python -m tools.bench --only archive           the archive's three cases (about 5 minutes)

The rate section's options: --shapes (bucket-1, bucket-0.2s, bucket-1s: token buckets of one request,
0.2 s and 1 s of the rate; fixed-1s, fixed-60s: fixed windows; sliding-1s; or all), --limits
(requests/s), --latency-ms, --no-retry-after (429s without Retry-After) or --retry-after
with|without|both. Given none of these four, the default matrix runs (each dimension varied from a 0.2 s
bucket at 50/s, 50 ms, with Retry-After); given some, their cross product, a dimension left out at
bucket-1s, 50/s, 50 ms, with. --cases names cases one by one instead: SHAPE@LIMIT, then :<N>ms for
another latency, :no-ra for 429s without Retry-After. --contracts sets N for every case (default: about
20 s of the quota, 150 s for a 60 s window, at least 1,000). --tools picks from ours, naive, dlt, ours2
(two sync processes sharing SPOTDRAFT_RATE_LIMIT; default ours,naive,dlt; all four with --quick).
--naive-cap-s stops the naive load after that many seconds (default 60; 0: no cap), keeping what it
read: at 300 ms it would take many minutes.

Sections 2, 4, 5, 6 and 7 share one local Prefect server, started once: its database is SQLite in its
home, or a throwaway PostgreSQL server with --prefect-database postgresql (the production setup).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

CONTRACTS = int(os.environ.get("BENCH_CONTRACTS", "1000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "3000"))
FILE_MB = int(os.environ.get("BENCH_FILE_MB", "64"))


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def client_overhead(sb) -> None:
    import httpx

    from client import SpotDraftClient

    ids = [c["composite_id"] for c in sb.snapshot()]
    paths = [f"/api/v2.1/public/contracts/{ids[i % len(ids)]}/status" for i in range(REQUESTS)]
    with httpx.Client(base_url=sb.base_url, headers=sb.headers) as raw:
        raw_s = timed(lambda: [raw.get(p).raise_for_status() for p in paths])
    with SpotDraftClient(sb.client_id, sb.client_secret, base_url=sb.base_url) as ours:
        ours_s = timed(lambda: [
            ours.call("get_contract_status", path_params={"composite_id": ids[i % len(ids)]}) for i in range(REQUESTS)
        ])
    print(f"status GETs, one connection, {REQUESTS} requests:")
    print(f"  bare httpx.Client      {REQUESTS / raw_s:8.0f} req/s")
    print(f"  SpotDraftClient.call   {REQUESTS / ours_s:8.0f} req/s   (ratio to bare httpx: {raw_s / ours_s:.2f})")


def sync_throughput(sb, home: Path, prefect_env: dict[str, str]) -> None:
    from tools.prefect_server import flush_prefect_workers

    os.environ.update(prefect_env)
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    from blocks import SpotDraftCredentials
    from flows import sync_contracts

    credentials = SpotDraftCredentials(client_id=sb.client_id, client_secret=sb.client_secret,
                                       base_url=sb.base_url)
    print(f"sync_contracts, {CONTRACTS} contracts, pages of 100, full pass into SQLite:")
    results = {}
    for concurrency in (1, 8):
        db = home / f"bench-{concurrency}.db"
        summary = sync_contracts(credentials, database_url=f"sqlite:///{db}", concurrency=concurrency,
                                 reference_data=False, return_state=True).result()
        results[concurrency] = summary
        rate = summary["contracts_read"] / summary["duration_s"]
        print(f"  concurrency {concurrency:2d}   {rate:8.0f} contracts/s  {summary['requests']} requests "
              f"in {summary['duration_s']} s")
    print(f"  speed-up of concurrent key-pointer calls: "
          f"{results[1]['duration_s'] / results[8]['duration_s']:.2f}x")
    flush_prefect_workers()


def file_transfer(sb, home: Path) -> None:
    import tracemalloc

    from client import SpotDraftClient

    source = home / "large.pdf"
    with open(source, "wb") as out:
        for _ in range(FILE_MB):
            out.write(os.urandom(1024 * 1024))
    size = source.stat().st_size
    print(f"workspace file of {FILE_MB} MB, up to and back from the signed storage URL:")
    with SpotDraftClient(sb.client_id, sb.client_secret, base_url=sb.base_url) as client:
        body = {"files": [{"filename": source.name, "content_type": "application/pdf"}]}
        [slot] = client.call("start_workspace_file_uploads", body=body)["files"]
        url = None
        for step in ("upload", "download"):
            tracemalloc.start()
            started = time.perf_counter()
            if step == "upload":
                client.upload_to_signed_url(slot["upload_url"], source, content_type="application/pdf")
                url = client.call("get_workspace_file_download_url", path_params={"file_id": slot["file_id"]})
            else:
                client.download_from_signed_url(url["signed_url"], home / "back.pdf")
            seconds = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"  {step:8s}  {size / seconds / 1e6:8.0f} MB/s   peak Python memory {peak / 1e6:6.2f} MB "
                  f"({peak / size:.3f} of the file)")
    assert (home / "back.pdf").stat().st_size == size


SECTIONS = ("overhead", "files", "sync", "rate", "webhooks", "analytics", "archive")
PREFECT_SECTIONS = {"sync", "rate", "webhooks", "analytics", "archive"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from tools import bench_rate, bench_webhooks, quota_shapes
    from tools.bench_webhooks_executors import EXECUTORS
    from tools.quota_shapes import SHAPES

    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"sections to run, comma-separated, of {','.join(SECTIONS)} (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="the rate section's one small case instead of its matrix: N=300 on bucket-1s at 50/s")
    parser.add_argument("--shapes", help=f"rate-section quota shapes, comma-separated, of {','.join(SHAPES)} or all")
    parser.add_argument("--limits", help="rate limits in requests/s, e.g. 20,50,200")
    parser.add_argument("--latency-ms", help="the sandbox's latency per answer, e.g. 50,300")
    parser.add_argument("--retry-after", choices=("with", "without", "both"),
                        help="429s with Retry-After, without it, or a case of each")
    parser.add_argument("--no-retry-after", dest="retry_after", action="store_const", const="without",
                        help="429s without Retry-After (the same as --retry-after without)")
    parser.add_argument("--cases", help="rate-section cases named one by one, instead of the four options above: "
                                        "SHAPE@LIMIT[:<N>ms][:no-ra], e.g. bucket-1@50,bucket-0.2s@200:300ms:no-ra")
    parser.add_argument("--contracts", help="contracts seeded, e.g. 2000,20000 (default: sized per case)")
    parser.add_argument("--tools", help=f"rate-section tools, of {','.join(bench_rate.TOOLS)}: ours2 is two sync "
                                        f"processes sharing SPOTDRAFT_RATE_LIMIT (default: "
                                        f"{','.join(bench_rate.DEFAULT_TOOLS)}; all four with --quick)")
    parser.add_argument("--naive-cap-s", type=float, default=bench_rate.NAIVE_CAP_S,
                        help=f"stop a naive load after this many seconds, 0 for no cap (default: "
                             f"{bench_rate.NAIVE_CAP_S:g})")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the rate table as JSON here")
    parser.add_argument("--deliveries", type=int, default=bench_webhooks.DELIVERIES,
                        help=f"webhooks section: changes in the steady stream, at most {bench_webhooks.IN_FLIGHT} "
                             f"in flight (default: {bench_webhooks.DELIVERIES})")
    parser.add_argument("--webhook-executors", default="receiver",
                        help=f"webhooks section: what runs the syncs, comma-separated, of {','.join(EXECUTORS)} "
                             "(tools/bench_webhooks_executors.py; default: receiver)")
    parser.add_argument("--sync-concurrency", type=int, metavar="N",
                        help="webhooks section: contracts the sync worker syncs at once (default: the worker's, 8)")
    parser.add_argument("--prefect-database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the local Prefect server's database (default: sqlite)")
    parser.add_argument("--analytics-rows", default="10000,100000",
                        help="analytics section: contracts seeded, one load each (default: 10000,100000)")
    parser.add_argument("--analytics-limit", type=float, default=50.0,
                        help="analytics section: the sandbox's rate limit, requests/s (default: 50)")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    if unknown := set(args.sections) - set(SECTIONS):
        parser.error(f"--only: unknown section(s) {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    args.executors = tuple(e.strip() for e in args.webhook_executors.split(",") if e.strip())
    if not args.executors or set(args.executors) - set(EXECUTORS):
        parser.error(f"--webhook-executors: choose from {','.join(EXECUTORS)}")
    default_tools = bench_rate.TOOLS if args.quick else bench_rate.DEFAULT_TOOLS
    args.tool_list = [t.strip() for t in args.tools.split(",") if t.strip()] if args.tools else list(default_tools)
    if unknown := set(args.tool_list) - set(bench_rate.TOOLS):
        parser.error(f"--tools: unknown tool(s) {sorted(unknown)}; choose from {','.join(bench_rate.TOOLS)}")
    try:
        shapes = quota_shapes.parse_shapes(args.shapes) if args.shapes else None
        limits = quota_shapes.parse_list(args.limits, float) if args.limits else None
        latencies = quota_shapes.parse_list(args.latency_ms, float) if args.latency_ms else None
        contracts = quota_shapes.parse_list(args.contracts, int) if args.contracts else None
        named = quota_shapes.parse_cases(args.cases) if args.cases else None
    except ValueError as error:
        parser.error(f"--shapes / --limits / --latency-ms / --contracts / --cases: {error}")
    if named and (shapes or limits or latencies or args.retry_after):
        parser.error("--cases names whole cases: leave out --shapes, --limits, --latency-ms and --retry-after")
    retry_after = {None: None, "with": (True,), "without": (False,), "both": (True, False)}[args.retry_after]
    if any(n < 1 for n in contracts or ()) or any(v <= 0 for v in limits or ()) \
            or any(v < 0 for v in latencies or ()) or args.deliveries < 1 or args.naive_cap_s < 0 \
            or any(c.limit <= 0 or c.latency_ms < 0 for c in named or ()):
        parser.error("--contracts, --limits and --deliveries must be positive, --latency-ms and --naive-cap-s not "
                     "negative")
    args.naive_cap = args.naive_cap_s or None
    if args.quick:  # the quick case, or the cases given, at its size
        shapes, contracts = shapes or (quota_shapes.QUICK.shape,), contracts or (quota_shapes.QUICK.n,)
    args.cases = quota_shapes.cases_for(shapes, limits, latencies, retry_after, contracts, named)
    try:
        args.analytics_sizes = quota_shapes.parse_list(args.analytics_rows, int)
    except ValueError as error:
        parser.error(f"--analytics-rows: {error}")
    if min(args.analytics_sizes, default=0) < 1 or args.analytics_limit <= 0:
        parser.error("--analytics-rows and --analytics-limit must be positive")
    return args


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every context manager stops what it started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _exit_on_sigterm()
    if "rate" in args.sections:
        from tools import bench_rate

        print(bench_rate.describe_plan(args.cases, args.tool_list, args.naive_cap), flush=True)
    from sandbox import Faults, SandboxProcess
    from tools.prefect_server import local_prefect_server

    ok = True
    with tempfile.TemporaryDirectory(prefix="spotdraft-bench-") as tmp, contextlib.ExitStack() as stack:
        home = Path(tmp)
        if {"overhead", "files"} & set(args.sections):
            with SandboxProcess(contracts=CONTRACTS, seed=1) as sb:
                if "overhead" in args.sections:
                    client_overhead(sb)
                if "files" in args.sections:
                    file_transfer(sb, home)
        prefect_env = None
        if PREFECT_SECTIONS & set(args.sections):
            database_url = None
            if args.prefect_database == "postgresql":
                from tools.postgres import postgres_server, prefect_database

                database_url = prefect_database(stack.enter_context(postgres_server()))
            prefect_env = stack.enter_context(local_prefect_server(home / "prefect", database_url=database_url))
        if "sync" in args.sections:
            # 5 ms per answer stands in for the network: concurrency only pays where there is latency.
            with SandboxProcess(contracts=CONTRACTS, seed=1, faults=Faults(p_latency=1.0, latency_ms=5)) as sb:
                sync_throughput(sb, home, prefect_env)
        if "rate" in args.sections:
            from tools import bench_rate

            ok = bench_rate.run(args.cases, args.tool_list, prefect_env, home / "rate", args.json, args.naive_cap)
        if "webhooks" in args.sections:
            from tools import bench_webhooks

            ok = bench_webhooks.run(prefect_env, home / "webhooks", args.deliveries, args.executors,
                                    {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[args.prefect_database],
                                    args.sync_concurrency) and ok
        if "analytics" in args.sections:
            from tools import bench_analytics

            ok = bench_analytics.run(prefect_env, home / "analytics", args.analytics_sizes, args.analytics_limit) and ok
        if "archive" in args.sections:
            from tools import bench_archive

            ok = bench_archive.run(prefect_env, home / "archive", list(bench_archive.CASES)) and ok
    if not ok:
        print("\nbench: a load failed or stored fewer contracts than seeded (see Problems above), a webhook "
              "change never reached its row (see LOST above), an analytics load failed or grew in memory, or "
              "an archived file was missing, differed or cost too much memory (see the archive table)",
              file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
