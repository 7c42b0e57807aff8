"""`make bench`: figures, not pass/fail. Ratios measured in one run are what to compare.

1. The sandbox and the client's overhead: the same status GETs sent with a bare httpx.Client and with
   SpotDraftClient.call (validation, error typing, retry wrapper), against a sandbox process.
2. The sync: contracts per second into SQLite through a real local Prefect server, with the
   key-pointer calls of a page sequential and concurrent.
3. Workspace files: a large file up to and back from the signed storage URL, with the peak of
   Python memory (tracemalloc) during each, as a fraction of the file's size: streaming keeps it small.
"""

from __future__ import annotations

import os
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


def sync_throughput(sb, home: Path) -> None:
    from tools.prefect_server import flush_prefect_workers, local_prefect_server

    with local_prefect_server(home) as env:
        os.environ.update(env)
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


def main() -> None:
    from sandbox import Faults, SandboxProcess

    with tempfile.TemporaryDirectory(prefix="spotdraft-bench-") as tmp:
        with SandboxProcess(contracts=CONTRACTS, seed=1) as sb:
            client_overhead(sb)
            file_transfer(sb, Path(tmp))
        # 5 ms per answer stands in for the network: concurrency only pays where there is latency.
        with SandboxProcess(contracts=CONTRACTS, seed=1, faults=Faults(p_latency=1.0, latency_ms=5)) as sb:
            sync_throughput(sb, Path(tmp))


if __name__ == "__main__":
    main()
