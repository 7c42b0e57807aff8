"""The quota shapes of the rate benchmark and the cases it runs (`tools/bench_rate.py` runs them).

A shape is a named quota the sandbox enforces per credential pair (sandbox/quotas.py), unknown to
every client: token buckets of one request, 0.2 s and 1 s of the rate; fixed windows of 1 s and
60 s; a sliding window of 1 s. A case is a shape at a limit, a latency, with or without Retry-After,
and a number of contracts: enough for about 20 s of the quota (150 s, two and a half windows, for a
60 s window), at least 1,000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sandbox import Faults
from sandbox.quotas import quota

PAGE_SIZE = 100  # the loads' list page size (tools/bench_load.py)


@dataclass(frozen=True)
class Shape:
    name: str
    kind: str  # "bucket", "fixed" or "sliding" (sandbox/quotas.py)
    burst_s: float | None = None  # a bucket's size in seconds of its rate; None: one request
    window_s: float = 1.0  # a window's length

    def burst(self, limit: float) -> float:
        return 1.0 if self.burst_s is None else max(1.0, round(self.burst_s * limit))

    def describe(self, limit: float) -> str:
        if self.kind == "bucket":
            size = f"{self.burst(limit):g} request{'s' if self.burst(limit) != 1 else ''}"
            return f"token bucket of {size}" + ("" if self.burst_s is None else f" ({self.burst_s:g} s of the rate)")
        return f"{self.kind} window of {self.window_s:g} s ({max(1, round(limit * self.window_s)):,} requests)"


SHAPES = {s.name: s for s in (
    Shape("bucket-1", "bucket"),
    Shape("bucket-0.2s", "bucket", burst_s=0.2),
    Shape("bucket-1s", "bucket", burst_s=1.0),
    Shape("fixed-1s", "fixed"),
    Shape("fixed-60s", "fixed", window_s=60.0),
    Shape("sliding-1s", "sliding"),
)}  # fmt: skip


@dataclass(frozen=True)
class Case:
    shape: str
    limit: float
    latency_ms: float = 50.0
    retry_after: bool = True
    contracts: int | None = None  # None: sized by contracts_for

    @property
    def n(self) -> int:
        return self.contracts if self.contracts is not None else contracts_for(SHAPES[self.shape], self.limit)

    @property
    def name(self) -> str:
        return (f"{self.shape} L={self.limit:g}/s {self.latency_ms:g} ms {'' if self.retry_after else 'no '}"
                f"Retry-After N={self.n:,}")

    def faults(self) -> Faults:
        shape = SHAPES[self.shape]
        return Faults(rate_limit=self.limit, rate_shape=shape.kind, rate_burst=shape.burst(self.limit),
                      rate_window_s=shape.window_s, rate_retry_after=self.retry_after,
                      p_latency=1.0, latency_ms=self.latency_ms)


def requests_needed(contracts: int) -> int:
    """One list request per page, one more that comes back empty or short, one per contract."""
    return contracts + math.ceil(contracts / PAGE_SIZE) + 1


def contracts_for(shape: Shape, limit: float) -> int:
    """About 20 s of the quota, or 150 s (two and a half windows) for a window of a minute; at least 1,000."""
    seconds = 2.5 * shape.window_s if shape.window_s >= 60 else 20.0
    return max(1_000, math.ceil(seconds * limit * PAGE_SIZE / (PAGE_SIZE + 1) / 100) * 100)


# The default matrix: each dimension varied from a middle case (a 0.2 s bucket at 50/s, 50 ms, with
# Retry-After), not the cross product; about 40 minutes with ours, naive (capped) and dlt.
MATRIX = (
    Case("bucket-1s", 50),
    Case("bucket-0.2s", 20), Case("bucket-0.2s", 50), Case("bucket-0.2s", 200),
    Case("bucket-1", 50), Case("bucket-1", 200),
    Case("fixed-1s", 50), Case("fixed-1s", 50, retry_after=False),
    Case("sliding-1s", 50), Case("sliding-1s", 200),
    Case("fixed-60s", 20),
    Case("bucket-0.2s", 50, retry_after=False),
    Case("bucket-0.2s", 50, latency_ms=300), Case("bucket-0.2s", 200, latency_ms=300),
)  # fmt: skip
# A dimension left out of explicit options takes this value; CI's quick case is this one at N=300.
DEFAULTS = {"shapes": ("bucket-1s",), "limits": (50.0,), "latencies": (50.0,), "retry_after": (True,)}
QUICK = Case("bucket-1s", 50, contracts=300)


def ideal_span_s(case: Case, answered: int, first_at: float) -> float:
    """The shortest time from the first to the last of `answered` requests a client that knew the quota
    could take (each sent the moment the quota lets it through, latency aside), the first arriving at
    `first_at` on the sandbox's clock (time.monotonic: a fixed window's edges are multiples of its length)."""
    shape = SHAPES[case.shape]
    server = quota(shape.kind, case.limit, burst=shape.burst(case.limit), window_s=shape.window_s, now=first_at)
    at = first_at
    for _ in range(answered):
        while wait := server.take(at):
            at += max(wait, 1e-9)
    return at - first_at


def parse_list(text: str, kind=float) -> tuple:
    values = tuple(kind(v.strip().replace("_", "")) for v in text.split(",") if v.strip())
    if not values:
        raise ValueError("empty list")
    return values


def parse_shapes(text: str) -> tuple[str, ...]:
    names = tuple(SHAPES) if text.strip() == "all" else tuple(n.strip() for n in text.split(",") if n.strip())
    if unknown := [n for n in names if n not in SHAPES]:
        raise ValueError(f"unknown shape(s) {unknown}; choose from {', '.join(SHAPES)} or all")
    if not names:
        raise ValueError("empty list")
    return names


def parse_cases(text: str) -> list[Case]:
    """Cases named one by one: SHAPE@LIMIT, then optionally :<N>ms and :no-ra, e.g. bucket-0.2s@50:300ms:no-ra."""
    cases = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        name, _, rest = item.partition("@")
        limit, *options = rest.split(":")
        latency = [float(o[:-2]) for o in options if o.endswith("ms")]
        if name not in SHAPES or not limit or len(latency) > 1 or any(
                o != "no-ra" and not o.endswith("ms") for o in options):
            raise ValueError(f"{item!r} is not SHAPE@LIMIT[:<N>ms][:no-ra] with SHAPE one of {', '.join(SHAPES)}")
        cases.append(Case(name, float(limit), latency[0] if latency else DEFAULTS["latencies"][0],
                          "no-ra" not in options))
    if not cases:
        raise ValueError("empty list")
    return cases


def cases_for(shapes: tuple[str, ...] | None = None, limits: tuple[float, ...] | None = None,
              latencies: tuple[float, ...] | None = None, retry_after: tuple[bool, ...] | None = None,
              contracts: tuple[int, ...] | None = None, named: list[Case] | None = None) -> list[Case]:  # fmt: skip
    """The cases `named`; else the default matrix when no dimension is given; else the cross product of those
    given, each dimension left out at its DEFAULTS value. `contracts` replaces the sizing of every case."""
    if named:
        base = named
    elif shapes is limits is latencies is retry_after is None:
        base = list(MATRIX)
    else:
        base = [Case(s, float(limit), float(ms), ra)
                for s in shapes or DEFAULTS["shapes"] for limit in limits or DEFAULTS["limits"]
                for ms in latencies or DEFAULTS["latencies"] for ra in retry_after or DEFAULTS["retry_after"]]
    if contracts is None:
        return base
    return [Case(c.shape, c.limit, c.latency_ms, c.retry_after, n) for c in base for n in contracts]
