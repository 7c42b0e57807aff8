"""The archive's benchmark (`make bench BENCH_ARGS="--only archive"`): files per second, MB/s and peak memory.

Each case is a sandbox process whose contracts each get a new version of the case's size, archived by
`archive_contracts` (every status, concurrency 4) into an S3 server (moto's server mode, a process of its own)
through s3fs, from a process of its own that reports to a local Prefect server. That process first runs the
flow once with nothing to archive and asks the S3 server for one object (the warm-up: imports, the Prefect
client, the database, the S3 client and its service model), then resets its
peak resident memory (Linux: /proc/self/clear_refs), notes its resident memory as the baseline, runs the case,
and reads its peak (VmHWM): the peak above the baseline is what the files cost, which streaming keeps flat in
their size. Every file's sha256 is compared with the sandbox's.

    python -m tools.bench_archive                  the three cases below (about 5 minutes)
    python -m tools.bench_archive --cases 10x50    one of them
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MB = 1024 * 1024
CASES = {"1000x0.2": (1000, 200 * 1024), "10x50": (10, 50 * MB), "1x200": (1, 200 * MB)}
PEAK_LIMIT_MB = 64  # the bound for the 50 MB files, above the process's baseline
ALL_STATUSES = ["DRAFT", "REDLINING", "SIGN", "EXECUTED", "ON_HOLD", "VOIDED"]


def _memory(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def measure() -> int:
    """In the archive's own process: warm up, reset the peak, archive the case, print one JSON line."""
    from prefect.filesystems import RemoteFileSystem

    from blocks import SpotDraftCredentials
    from flows import archive_contracts
    from flows.archive_storage import ArchiveStorage

    credentials = SpotDraftCredentials(client_id=os.environ["SANDBOX_CLIENT_ID"],
                                       client_secret=os.environ["SANDBOX_CLIENT_SECRET"],
                                       base_url=os.environ["SANDBOX_URL"])
    storage = RemoteFileSystem(**json.loads(os.environ["STORAGE"]))
    database_url = os.environ["DATABASE_URL"]
    archive_contracts(credentials, storage, database_url=database_url, contract_id="1", statuses=ALL_STATUSES)
    ArchiveStorage(storage).exists("warm-up")  # the S3 client made once: botocore loads its service model
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    baseline = _memory("VmRSS")
    summary = archive_contracts(credentials, storage, database_url=database_url, statuses=ALL_STATUSES,
                                concurrency=4, page_size=100)
    print("BENCH " + json.dumps({"baseline": baseline, "peak": _memory("VmHWM"), **{
        k: summary[k] for k in ("archived", "failed", "bytes", "duration_s")}}), flush=True)
    return 0


def _s3_server(port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("moto's server did not start")


def run_case(name: str, prefect_env: dict, home: Path, endpoint: str) -> dict:
    import boto3
    import s3fs

    from sandbox import SandboxProcess

    count, size = CASES[name]
    keys = {"key": "bench-key", "secret": "bench-secret"}
    settings = {**keys, "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
    bucket = f"bench-{name.replace('.', '-').replace('x', '-')}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=keys["key"],
                 aws_secret_access_key=keys["secret"]).create_bucket(Bucket=bucket)
    with SandboxProcess(contracts=count, seed=3) as sb:
        expected = {}
        for contract in sb.snapshot():
            document = sb.new_version(contract["id"], size=size)
            expected[document["sha256"]] = document
        env = {**os.environ, **prefect_env, "SANDBOX_URL": sb.base_url, "SANDBOX_CLIENT_ID": sb.client_id,
               "SANDBOX_CLIENT_SECRET": sb.client_secret, "PREFECT_LOGGING_LEVEL": "WARNING",
               "DATABASE_URL": f"sqlite:///{home / f'{bucket}.db'}",
               "STORAGE": json.dumps({"basepath": f"s3://{bucket}/contracts", "settings": settings})}
        done = subprocess.run([sys.executable, "-m", "tools.bench_archive", "--measure"], env=env,
                              capture_output=True, text=True, timeout=3600)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"case {name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    result = json.loads(line[6:])
    fs = s3fs.S3FileSystem(**settings, skip_instance_cache=True)
    result.update(case=name, files=count, size=size,
                  matching=sum(1 for digest in expected if _sha256(fs, bucket, digest, expected) is not None))
    return result


def _sha256(fs, bucket: str, digest: str, expected: dict) -> str | None:
    """The stored file whose sha256 is `digest` (read back in chunks), if any."""
    import hashlib

    document = expected[digest]
    path = f"{bucket}/contracts/{document['contract_id']}/{document['version_id']}/{document['file_name']}"
    if not fs.exists(path):
        return None
    sha = hashlib.sha256()
    with fs.open(path, "rb", block_size=8 * MB) as source:
        while chunk := source.read(8 * MB):
            sha.update(chunk)
    return path if sha.hexdigest() == digest else None


def run(prefect_env: dict, home: Path, cases: list[str]) -> bool:
    from tools.prefect_server import free_port, stop_process_group

    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = _s3_server(port)
    ok, rows = True, []
    try:
        for name in cases:
            print(f"archive case {name} ...", flush=True)
            rows.append(run_case(name, prefect_env, home, f"http://127.0.0.1:{port}"))
    finally:
        stop_process_group(server)
    print("\n| case | files | MB each | seconds | files/s | MB/s | baseline RSS MB | peak above it MB | stored, sha256 "
          "as the sandbox's |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        seconds, total_mb = r["duration_s"], r["bytes"] / MB
        above = (r["peak"] - r["baseline"]) / MB
        print(f"| {r['case']} | {r['files']} | {r['size'] / MB:.1f} | {seconds:.1f} | {r['archived'] / seconds:.1f} | "
              f"{total_mb / seconds:.1f} | {r['baseline'] / MB:.0f} | {above:.1f} | {r['matching']}/{r['files']} |")
        ok = ok and r["failed"] == 0 and r["matching"] == r["files"]
        if r["size"] >= 50 * MB and above > PEAK_LIMIT_MB:
            print(f"  over the bound: {above:.1f} MB above the baseline (at most {PEAK_LIMIT_MB})")
            ok = False
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_archive", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"of {','.join(CASES)}")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        return measure()
    import tempfile

    from tools.prefect_server import local_prefect_server

    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    if unknown := set(cases) - set(CASES):
        parser.error(f"unknown case(s) {sorted(unknown)}")
    with tempfile.TemporaryDirectory(prefix="spotdraft-bench-archive-") as tmp, \
            local_prefect_server(Path(tmp) / "prefect") as prefect_env:
        return 0 if run(prefect_env, Path(tmp) / "archive", cases) else 1


if __name__ == "__main__":
    sys.exit(main())
