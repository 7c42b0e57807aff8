"""One load of the rate-limit benchmark, in its own process: `python -m tools.bench_load TOOL ...`.

Each tool lists every contract (pages of 100) and fetches each contract's key pointers, storing both
in a fresh SQLite file; `tools/bench_rate.py` starts it, counts requests on the server side and
checks the rows. Nothing here is told the sandbox's rate limit.

- `ours`: `flows.sync_contracts` with default parameters (bar `reference_data=False`), reporting to
  the Prefect server named by PREFECT_API_URL.
- `naive`: a plain httpx loop, one request at a time, sleeping `Retry-After` on a 429 (1 s without
  one) and sending the same request again: how SpotDraft's own examples call the API. With
  --max-seconds it stops before the first request past that time, keeping what it read (`capped`).
- `dlt`: dlt's `rest_api` source (a page-number paginated `contracts` resource, and `key_pointers`
  as a dependent resource with `parallelized: True`) into SQLite through dlt's sqlalchemy destination.

The client secret comes from $BENCH_CLIENT_SECRET (not the command line). Written to --result as
JSON: the wall time of the load alone (imports and interpreter start excluded; until the failure
when it fails), its start and end as epoch seconds, peak RSS, any error, and for `ours` the flow
run id and its state; the exit status is 1 when the load failed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import sys
import time
import traceback
from pathlib import Path
from typing import Any

SECRET_ENV = "BENCH_CLIENT_SECRET"
LIST_PATH = "/api/v2.1/public/contracts/"
KEY_POINTERS_PATH = "/api/v2.1/public/contracts/{composite_id}/key_pointers"
PAGE_SIZE = 100


class Clock:
    """When the load itself starts and ends, also when it fails midway (its wall time still counts)."""

    def __init__(self) -> None:
        self.started_at: float | None = None  # epoch seconds, comparable across processes
        self._started: float | None = None
        self.wall_s: float | None = None
        self.ended_at: float | None = None

    def start(self) -> None:
        self.started_at, self._started = time.time(), time.perf_counter()

    def stop(self) -> None:
        if self._started is not None and self.wall_s is None:
            self.wall_s, self.ended_at = time.perf_counter() - self._started, time.time()

    def as_dict(self) -> dict[str, Any]:
        return {"wall_s": self.wall_s, "started_at": self.started_at, "ended_at": self.ended_at}


def composite_id(record: dict[str, Any]) -> str:
    """The T-/H- id the per-contract endpoints take (the rule of flows/common.py:composite_id_of)."""
    raw = str(record.get("composite_id") or record["id"])
    return raw if raw[:2] in ("T-", "H-") else f"T-{raw}"


# ---------------------------------------------------------------------------- ours


def load_ours(base_url: str, client_id: str, secret: str, db: Path, work: Path, clock: Clock) -> dict[str, Any]:
    from blocks import SpotDraftCredentials
    from flows import sync_contracts
    from tools.prefect_server import flush_prefect_workers

    credentials = SpotDraftCredentials(client_id=client_id, client_secret=secret, base_url=base_url)
    clock.start()
    state = sync_contracts(credentials, database_url=f"sqlite:///{db}", reference_data=False, return_state=True)
    clock.stop()
    out: dict[str, Any] = {"flow_run_id": str(state.state_details.flow_run_id), "state": state.type.value}
    try:
        out["summary"] = state.result()
    except BaseException as error:  # a failed run: say so, the parent marks the row failed
        out["error"] = f"flow run {state.type.value}: {error!r}"[:2000]
    flush_prefect_workers()  # task runs reach the server before the parent counts them
    return out


# ---------------------------------------------------------------------------- naive


def load_naive(base_url: str, client_id: str, secret: str, db: Path, work: Path, clock: Clock,
               max_seconds: float | None = None) -> dict[str, Any]:  # fmt: skip
    import httpx

    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE contracts (id TEXT PRIMARY KEY, composite_id TEXT, record TEXT NOT NULL, "
                 "key_pointers TEXT)")
    headers = {"client-id": client_id, "client-secret": secret}
    sleeps, capped = 0, False

    def get(client: httpx.Client, path: str, params: dict[str, Any] | None = None) -> Any:
        nonlocal sleeps
        while True:
            response = client.get(path, params=params)
            if response.status_code == 429:  # as told: wait Retry-After, then the same request again
                sleeps += 1
                time.sleep(float(response.headers.get("Retry-After") or 1))
                continue
            response.raise_for_status()
            return response.json()

    clock.start()
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, headers=headers, timeout=60, follow_redirects=False) as client:
        page = 1
        while True:
            answer = get(client, LIST_PATH, {"page": page, "limit": PAGE_SIZE})
            records = answer["results"]
            rows = []
            for record in records:
                if max_seconds is not None and time.perf_counter() - started >= max_seconds:
                    capped = True
                    break
                cid = composite_id(record)
                key_pointers = get(client, KEY_POINTERS_PATH.format(composite_id=cid))
                rows.append((str(record["id"]), cid, json.dumps(record), json.dumps(key_pointers)))
            with conn:
                conn.executemany("INSERT OR REPLACE INTO contracts VALUES (?, ?, ?, ?)", rows)
            if capped or not records or page * PAGE_SIZE >= int(answer["total_results"]):
                break
            page += 1
    clock.stop()
    conn.close()
    return {"client_429_sleeps": sleeps, "capped": capped}


# ---------------------------------------------------------------------------- dlt


def dlt_config(base_url: str, client_id: str, secret: str) -> dict[str, Any]:
    """The rest_api source: contracts paged by number, key pointers per contract, fetched in parallel.

    SpotDraft's `total_results` counts contracts, while the page-number paginator's `total_path`
    counts pages; so no total_path, and paging stops at the first empty page (one request more than
    needed, the same as `total_path: total_results` would do). The key pointers path needs the
    composite id (T-<id> for a bare number): a `map` step on the parent adds it as a field, and the
    child's path refers to that field; `include_from_parent` stores the contract's id on every key
    pointer row (`_contracts_id`).
    """

    def with_composite_id(record: dict[str, Any]) -> dict[str, Any]:
        record["composite_id"] = composite_id(record)
        return record

    return {
        "client": {"base_url": base_url, "headers": {"client-id": client_id, "client-secret": secret}},
        "resource_defaults": {"write_disposition": "replace"},
        "resources": [
            {
                "name": "contracts",
                "endpoint": {
                    "path": LIST_PATH.lstrip("/"),
                    "params": {"limit": PAGE_SIZE},
                    "paginator": {"type": "page_number", "base_page": 1, "page_param": "page",
                                  "total_path": None, "stop_after_empty_page": True},
                    "data_selector": "results",
                },
                "processing_steps": [{"map": with_composite_id}],
            },
            {
                "name": "key_pointers",
                "endpoint": {
                    "path": KEY_POINTERS_PATH.lstrip("/").replace(
                        "{composite_id}", "{resources.contracts.composite_id}"),
                    "paginator": "single_page",
                    "data_selector": "$",
                },
                "include_from_parent": ["id"],
                "parallelized": True,
            },
        ],
    }


def load_dlt(base_url: str, client_id: str, secret: str, db: Path, work: Path, clock: Clock) -> dict[str, Any]:
    import dlt
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(dlt_config(base_url, client_id, secret), name="spotdraft")
    pipeline = dlt.pipeline(pipeline_name="bench_spotdraft", pipelines_dir=str(work / "dlt-pipelines"),
                            destination=dlt.destinations.sqlalchemy(f"sqlite:///{db}"), dataset_name="main")
    clock.start()
    info = pipeline.run(source)
    clock.stop()
    out: dict[str, Any] = {"load_ids": list(info.loads_ids)}
    if info.has_failed_jobs:
        out["error"] = "dlt reported failed load jobs"
    return out


LOADS = {"ours": load_ours, "naive": load_naive, "dlt": load_dlt}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_load", description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=sorted(LOADS))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--db", required=True, type=Path, help="a SQLite file that does not exist yet")
    parser.add_argument("--work", required=True, type=Path, help="a folder of this load's own")
    parser.add_argument("--result", required=True, type=Path, help="where to write the JSON result")
    parser.add_argument("--max-seconds", type=float,
                        help="naive only: stop before the first request past this many seconds")
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        parser.error(f"set {SECRET_ENV}")
    if args.db.exists():
        parser.error(f"{args.db} exists: every load starts from a fresh database")
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"tool": args.tool, "pid": os.getpid()}
    clock = Clock()
    try:
        extra = {"max_seconds": args.max_seconds} if args.tool == "naive" else {}
        result.update(LOADS[args.tool](args.base_url, args.client_id, secret, args.db, args.work, clock, **extra))
    except BaseException as error:  # the parent reports it; the wall time until the failure still counts
        clock.stop()
        result["error"] = "".join(traceback.format_exception_only(error)).strip()[:2000]
        traceback.print_exc()
    result.update(clock.as_dict())
    code = 1 if "error" in result else 0
    result["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    args.result.write_text(json.dumps(result, default=str))
    return code


if __name__ == "__main__":
    sys.exit(main())
