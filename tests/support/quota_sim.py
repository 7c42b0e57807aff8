"""The client's rate limiter against a quota shape, simulated on a fake clock: many workers, latency,
jitter, Retry-After or none, each worker retrying its 429s as the client's retry policy does.

Discrete events in simulated time: seconds of traffic run in milliseconds, deterministically (seeded),
so a test can hold the limiter to efficiency and 429-share targets on every shape without a sandbox.
The shapes are the sandbox's own (sandbox/quotas.py); `make bench` measures the same over HTTP.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from client.ratelimit import RateLimiter
from sandbox.quotas import quota
from tests.support.clocks import FakeClock

QUICK_429_S = 0.001  # a 429 comes back at once: the sandbox adds latency to other answers only
# How late a request reaches the server after it left, as measured on a quiet 2-core machine (a client told
# the limit, pacing at 0.8-0.9 of a bucket of one request at 200/s, through the sandbox over loopback): most
# within a fraction of a millisecond, about one in 25 by a millisecond or more. Two requests that leave 5 ms
# apart can arrive 3 ms apart.
JITTER_S = 0.00025  # the mean delay of most requests...
JITTER_TAIL_SHARE = 0.04  # ...and the share of them delayed more...
JITTER_TAIL = 4.0  # ...by this many times as much on average (about a millisecond)
LISTED_AHEAD = 3  # the sync's first requests: its first pages listed (flows/sync.py PAGES_IN_FLIGHT)


Dips = Callable[[int, float], float]  # process, now -> when its requests resume (now: they are not stopped)
# Pauses of a full garbage collection in the sync at 200/s (a trace: 0.26-0.36 s with every thread stopped), about
# a tenth of the time: `Pauses(n, **GARBAGE_COLLECTIONS, start=...)`.
GARBAGE_COLLECTIONS = {"length_s": (0.2, 0.35), "gap_s": (1.0, 4.0)}


class Pauses:
    """Dips in each process's requests (`simulate_processes(dips=...)`): every thread stopped a while, as a full
    garbage collection stops them (0.2 to 0.35 s in the sync), or a page boundary. Each process on its own:
    pauses of `length_s` seconds with `gap_s` seconds between them (each drawn from its range, seeded), the
    first `phase_s` after `start` (drawn within the first gap unless given)."""

    def __init__(self, processes: int, length_s: tuple[float, float], gap_s: tuple[float, float], start: float,
                 seed: int = 1, phase_s: float | None = None, until_s: float = 3600.0) -> None:  # fmt: skip
        self.starts: list[list[float]] = []
        self.ends: list[list[float]] = []
        for p in range(processes):
            rng = random.Random(seed * 1000 + p)
            t = start + (rng.uniform(0, gap_s[1]) if phase_s is None else phase_s)
            starts, ends = [], []
            while t < start + until_s:
                length = rng.uniform(*length_s)
                starts.append(t)
                ends.append(t + length)
                t += length + rng.uniform(*gap_s)
            self.starts.append(starts)
            self.ends.append(ends)

    def __call__(self, p: int, now: float) -> float:
        i = bisect.bisect_right(self.starts[p], now) - 1
        return self.ends[p][i] if i >= 0 and now < self.ends[p][i] else now


class Server(Protocol):
    """A quota as the simulation asks it (sandbox/quotas.py): 0 when a request arriving `now` may pass, else
    the seconds until one would."""

    def take(self, now: float) -> float: ...


class RecordingLimiter(RateLimiter):
    """A limiter that keeps what it was told of each request: (sent_at, let through), to count by time or process."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.told: list[tuple[float, bool]] = []

    def answered(self, sent_at: float) -> None:
        super().answered(sent_at)
        self.told.append((sent_at, True))

    def throttled(self, sent_at: float, retry_after: float | None) -> None:
        super().throttled(sent_at, retry_after)
        self.told.append((sent_at, False))


@dataclass(frozen=True)
class Shape:
    """A quota unknown to the client: `kind` (bucket, fixed, sliding) of `rate` requests/s."""

    kind: str
    rate: float
    burst_s: float = 1.0  # a bucket's size, in seconds of its rate (at least one request)
    window_s: float = 1.0
    retry_after: bool = True
    latency_s: float = 0.05

    @property
    def name(self) -> str:
        size = (f"bucket of {max(1, round(self.rate * self.burst_s))}" if self.kind == "bucket"
                else f"{self.kind} window {self.window_s:g}s")
        return (f"{size} at {self.rate:g}/s, {'with' if self.retry_after else 'no'} Retry-After, "
                f"{1000 * self.latency_s:g} ms")


@dataclass(frozen=True)
class Outcome:
    answered: int
    throttled: int
    first: float
    last: float
    rate: float

    @property
    def efficiency(self) -> float:
        return self.answered / self.rate / (self.last - self.first)

    @property
    def share_429(self) -> float:
        return self.throttled / (self.answered + self.throttled)


def simulate(shape: Shape, requests: int, workers: int = 32, jitter_s: float = JITTER_S, seed: int = 1,
             limiter: RateLimiter | None = None, clock: FakeClock | None = None,
             server: Server | None = None, dips: Dips | None = None) -> Outcome:  # fmt: skip
    """`requests` requests answered through `limiter` (a fresh adaptive one by default) by `workers`."""
    clock = clock or FakeClock()
    return simulate_processes(shape, [limiter or RateLimiter(clock=clock)], requests, workers, jitter_s, seed, clock,
                              server, dips)


def simulate_processes(shape: Shape, limiters: list[RateLimiter], requests: int, workers: int | Sequence[int] = 32,
                       jitter_s: float = JITTER_S, seed: int = 1, clock: FakeClock | None = None,
                       server: Server | None = None, dips: Dips | None = None) -> Outcome:  # fmt: skip
    """Processes on one credential pair, each with its limiter (on `clock`) and `workers` workers (or as many
    as `workers[p]` for process p), each answering `requests` requests against the one quota; the outcome
    counts them all together. `server`: a quota of its own (anything with `take(now)`, e.g. one that changes
    mid-run) instead of the shape's. `dips`: when a process's requests stop a while (a garbage collection, a
    page boundary): no request of process p leaves before `dips(p, now)` (`now` when it is not in a dip)."""
    rng = random.Random(seed)
    clock = clock or FakeClock()
    server = server or quota(shape.kind, shape.rate, burst=max(1.0, round(shape.rate * shape.burst_s)),
                             window_s=shape.window_s, now=clock.t)
    events: list[tuple[float, int, str, int, float, float | None]] = []  # when, order, what, worker, sent, Retry-After
    order = 0

    def at(when: float, what: str, worker: int, sent_at: float = 0.0, retry_after: float | None = None) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (when, order, what, worker, sent_at, retry_after))

    processes = range(len(limiters))
    counts = [workers] * len(limiters) if isinstance(workers, int) else list(workers)
    # Workers interleaved by process (worker w of process p is the w-th of p): with as many workers in each
    # process, worker i * len(limiters) + p, as before.
    owner = [(p, i) for i in range(max(counts)) for p in processes if i < counts[p]]
    remaining = [requests for _ in processes]
    answered, throttled, first, last = 0, 0, math.inf, 0.0
    retrying = [0] * len(owner)  # a worker's 429s in a row for the request it holds (0: none)
    queues: list[deque[int]] = [deque() for _ in processes]  # each process's workers waiting for a turn
    woken = [False for _ in processes]  # a "turn" event is queued for the head of that queue

    def wake_heads() -> None:
        for p in processes:
            if queues[p] and not woken[p]:
                woken[p] = True
                at(limiters[p].next_turn(), "turn", queues[p][0])

    for worker, (_, i) in enumerate(owner):
        # As the sync does: each process lists its first pages (LISTED_AHEAD requests) before it has any key
        # pointers to fetch, so for one answer's time only those few requests want a turn.
        at(clock.t + (0.0 if i < LISTED_AHEAD else shape.latency_s), "want", worker)
    while events:
        when, _, what, worker, sent_at, retry_after = heapq.heappop(events)
        clock.t = max(clock.t, when)
        p = owner[worker][0]
        limiter = limiters[p]
        if what == "turn" and dips is not None and (resume := dips(p, clock.t)) > clock.t:
            at(resume, "turn", worker)  # the process is stopped: its next request leaves when it resumes
            continue
        if what == "want":
            if not retrying[worker]:
                if remaining[p] == 0:
                    continue
                remaining[p] -= 1
            queues[p].append(worker)
        elif what == "turn":
            woken[p] = False
            sent = limiter.take_turn()
            if sent is not None:
                queues[p].popleft()
                tail = rng.random() < JITTER_TAIL_SHARE
                arrival = sent + rng.expovariate(1 / (JITTER_TAIL * jitter_s if tail else jitter_s))
                first, last = min(first, arrival), max(last, arrival)
                wait = server.take(arrival)
                if wait:
                    throttled += 1
                    retry_after = max(1, math.ceil(wait)) if shape.retry_after else None
                    at(arrival + QUICK_429_S, "throttled", worker, sent, retry_after)
                    retrying[worker] += 1
                    # The retried request waits as the client's BackoffWait has it: Retry-After plus jitter,
                    # or a jittered exponential backoff from 0.5 s.
                    own_wait = (retry_after + rng.uniform(0, 0.5) if retry_after
                                else rng.uniform(0, 0.5 * 2 ** min(6, retrying[worker])))
                    at(arrival + QUICK_429_S + own_wait, "want", worker)
                else:
                    answered += 1
                    at(arrival + shape.latency_s, "answered", worker, sent)
        elif what == "throttled":
            limiter.throttled(sent_at, retry_after)
        else:  # answered
            limiter.answered(sent_at)
            retrying[worker] = 0
            at(clock.t, "want", worker)
        wake_heads()
    return Outcome(answered, throttled, first, last, shape.rate)

