"""What any client could reach on a quota shape on this machine: a pacer told the limit.

`python -m tools.pacing_ceiling --cases bucket-1@200,bucket-1@50 --shares 0.7,0.8,0.9`

For each case (tools/quota_shapes.py) a fresh sandbox; for each share of its limit, one request every
1 / (share x limit) seconds, open loop, from a thread that sleeps to each send time and spins its last
millisecond (so the client's own lateness is a few microseconds), handed to a pool of 64 threads on one
httpx client. Nothing else runs in the process: no sync, no Prefect, no SQLite. The sandbox's request log
gives the 429s and the span, as in `make bench`, and the gaps between arrivals: how far the machine's
scheduling and the loopback bring two requests sent 1 / rate apart closer than that. On a bucket of one
request, every arrival closer than 1 / limit to the one before is a 429 whatever the client does; the
best share at which the 429s stay within budget is the ceiling of that shape here.
"""

from __future__ import annotations

import argparse
import itertools
import queue
import statistics
import sys
import threading
import time

import httpx

from sandbox import SandboxProcess
from tools.bench_load import KEY_POINTERS_PATH
from tools.quota_shapes import Case, parse_cases, parse_list

WORKERS = 64
SPIN_S = 0.001  # the last part of each wait is spun, not slept: time.sleep wakes up to a millisecond late


def send_paced(base_url: str, headers: dict[str, str], ids: list[str], rate: float) -> list[int]:
    """One GET per id, the n-th sent n / rate seconds after the first; the statuses, in no order."""
    statuses: list[int] = []
    work: queue.Queue = queue.Queue()
    with httpx.Client(base_url=base_url, headers=headers, timeout=60,
                      limits=httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS)) as client:

        def worker() -> None:
            while (item := work.get()) is not None:
                go, composite_id = item
                go.wait()
                statuses.append(client.get(KEY_POINTERS_PATH.format(composite_id=composite_id)).status_code)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        start = time.monotonic() + 0.05
        for n, composite_id in enumerate(ids):
            go = threading.Event()
            work.put((go, composite_id))
            due = start + n / rate
            while (left := due - time.monotonic()) > SPIN_S:
                time.sleep(left - SPIN_S)
            while time.monotonic() < due:
                pass
            go.set()
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()
    return statuses


def measure(case: Case, shares: tuple[float, ...], requests: int) -> list[str]:
    lines = []
    with SandboxProcess(contracts=requests, seed=1, faults=case.faults()) as sandbox:
        ids = [c["composite_id"] for c in sandbox.snapshot()][:requests]
        headers = {"client-id": sandbox.client_id, "client-secret": sandbox.client_secret}
        assert sandbox.base_url is not None
        for share in shares:
            time.sleep(max(1.0, case.faults().rate_window_s))  # the quota refills: each share starts alike
            seen = len(sandbox.request_log())
            statuses = send_paced(sandbox.base_url, headers, ids, share * case.limit)
            arrivals = sorted(float(r["time"]) for r in sandbox.request_log()[seen:] if "key_pointers" in r["path"])
            answered = sum(1 for s in statuses if s != 429)
            gaps = sorted(b - a for a, b in itertools.pairwise(arrivals))
            closer = sum(1 for g in gaps if g < 1 / case.limit) / len(gaps)
            lines.append(
                f"{case.shape} at {case.limit:g}/s, {case.latency_ms:g} ms, paced at {share:.2f} of it: "
                f"429s {100 * (len(statuses) - answered) / len(statuses):.1f}%, "
                f"efficiency {answered / case.limit / (arrivals[-1] - arrivals[0]):.2f}; arrival gaps under "
                f"1/limit {100 * closer:.1f}%, 1st percentile {1000 * gaps[len(gaps) // 100]:.2f} ms, median "
                f"{1000 * statistics.median(gaps):.2f} ms (sent {1000 / share / case.limit:.2f} ms apart)")
            print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=parse_cases, default=parse_cases("bucket-1@200,bucket-1@50"),
                        help="SHAPE@LIMIT[:<N>ms][:no-ra], comma-separated (tools/quota_shapes.py)")
    parser.add_argument("--shares", type=parse_list, default=(0.7, 0.8, 0.9), help="shares of the limit to pace at")
    parser.add_argument("--seconds", type=float, default=10.0, help="about how long each share sends for")
    args = parser.parse_args(argv)
    for case in args.cases:
        measure(case, args.shares, int(args.seconds * case.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
