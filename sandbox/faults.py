"""Fault injection: what goes wrong, when, and reproducibly.

Three layers decide the fate of each request, in this order:
1. the **script**: exact outcomes queued by a test ("the next 2 POSTs to /contracts/ get a 504"),
2. the **rate limit**: per credential pair, in one of the shapes of sandbox/quotas.py (a token bucket
   by default), answering 429 with `Retry-After` in whole seconds (or without it),
3. the **random faults**: probabilities drawn from an RNG seeded from the sandbox seed.

Every request draws the same number of random values whatever happens to it, so a sequential
client sees the same faults at the same positions on every run with the same seed.

`decide()` only decides; the app carries the outcome out (it owns the connection). Outcome kinds:
"pass", "status" (a fixed answer), "drop" (close without answering), "timeout" (hold the
request far past any sane read timeout), "slow" (carry the request out, writes included, and hold
its real answer for timeout_sleep_s: an answer slower than the client's read timeout), "bad_json",
"html_502", "ambiguous" (perform the write, then answer 504), "ambiguous_drop" (perform the write,
then drop), "empty_page" and "short_page" (list answers only: a 200 whose `results` is [] or cut to
half its length while `total_results` still says the real total; any other answer passes unchanged)
and "cut" (scripted only: the real answer's headers and half its body, then the connection closes,
as a download broken off). A random 429 comes with `Retry-After` (p_429) or without it (p_429_bare);
a scripted 429 gets `Retry-After: 1` unless its headers say otherwise, and a header given as None
is left out (`headers={"Retry-After": None}`: a 429 without the header).
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sandbox.quotas import SHAPES, Quota, quota

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SERVER_ERRORS = (500, 502, 503, 504)
AMBIGUOUS_MODES = ("504", "drop", "mixed")
OUTCOMES = ("drop", "timeout", "slow", "ambiguous", "ambiguous_drop", "bad_json", "html_502", "cut",
            "empty_page", "short_page")
CONTRADICTORY = ("empty_page", "short_page")


@dataclass
class Faults:
    """What may go wrong; everything off by default. Probabilities are per request, 0..1."""

    rate_limit: float | None = None  # requests/second per credential pair; None = unlimited
    rate_burst: float | None = None  # bucket size; default max(1, rate_limit)
    rate_shape: str = "bucket"  # "bucket", "fixed" or "sliding" window (sandbox/quotas.py)
    rate_window_s: float = 1.0  # a window's length: it lets rate_limit * rate_window_s requests through
    rate_retry_after: bool = True  # False: the rate limit's 429s come without a Retry-After header
    p_5xx: float = 0.0  # a JSON 500/502/503/504
    p_html_502: float = 0.0  # a 502 with an HTML body, as a proxy in front would send
    p_drop: float = 0.0  # the connection is closed without an answer
    p_latency: float = 0.0  # the answer is delayed by latency_ms
    latency_ms: float = 200.0
    p_timeout: float = 0.0  # the answer is held for timeout_sleep_s
    timeout_sleep_s: float = 30.0
    p_bad_json: float = 0.0  # GETs only: a 200 whose body is not JSON
    p_ambiguous_write: float = 0.0  # writes only: performed, then 504 or dropped
    ambiguous_mode: str = "mixed"  # "504", "drop" or "mixed" (either, from the RNG)
    p_429: float = 0.0  # a 429 with Retry-After: retry_after_s (a throttling storm, apart from rate_limit)
    p_429_bare: float = 0.0  # a 429 without any Retry-After header
    retry_after_s: float = 1.0  # the Retry-After of a random 429 (whole seconds, rounded up)
    p_contradictory_page: float = 0.0  # list answers only: "empty_page" or "short_page" (from the RNG)
    p_slow: float = 0.0  # carried out (writes too), then answered after timeout_sleep_s
    seed: int | None = None  # fault RNG seed; None = the sandbox's seed

    def __post_init__(self) -> None:
        if self.ambiguous_mode not in AMBIGUOUS_MODES:
            raise ValueError(f"ambiguous_mode must be one of {AMBIGUOUS_MODES}")
        if self.rate_shape not in SHAPES:
            raise ValueError(f"rate_shape must be one of {SHAPES}")

    def update(self, **changes: Any) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        if changes.get("ambiguous_mode", self.ambiguous_mode) not in AMBIGUOUS_MODES:
            raise ValueError(f"ambiguous_mode must be one of {AMBIGUOUS_MODES}")
        if changes.get("rate_shape", self.rate_shape) not in SHAPES:
            raise ValueError(f"rate_shape must be one of {SHAPES}")
        for key, value in changes.items():
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Outcome:
    kind: str = "pass"
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None  # bytes, str, or a JSON-able value for kind == "status"
    delay_s: float = 0.0
    variant: float = 0.0  # a random draw the app uses to pick among variants (bad JSON shapes)
    source: str = "random"  # "script", "rate_limit" or "random": for the request log


PASS = Outcome()


@dataclass
class ScriptEntry:
    method: str  # "*" matches any
    pattern: re.Pattern[str]
    outcome: Outcome
    remaining: int
    query: re.Pattern[str] | None = None  # also searched in the query string, when given

    def matches(self, method: str, path: str, query: str) -> bool:
        return ((self.method == "*" or self.method == method) and self.pattern.search(path) is not None
                and (self.query is None or self.query.search(query) is not None))


class FaultInjector:
    def __init__(self, faults: Faults, seed: int):
        self.faults = faults
        self._seed = seed
        self._initial = faults.as_dict()  # what reset() restores (set_faults changes `faults` in place)
        self.rng = random.Random(faults.seed if faults.seed is not None else seed)
        self.script_entries: list[ScriptEntry] = []
        self.quotas: dict[tuple[str, str], tuple[tuple, Quota]] = {}
        self.lock = threading.Lock()  # scripts are added from the test thread

    # ------------------------------------------------------------------ script

    def script(
        self,
        method: str | None,
        path_regex: str,
        outcome: int | str,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        query_regex: str | None = None,
    ) -> None:
        """Queue `outcome` for the next `times` requests whose method and path (and query) match.

        `outcome` is a status code (answered with `body`, default a JSON detail, and `headers`;
        a 429 without headers gets `Retry-After: 1`) or one of OUTCOMES. Earlier entries win.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        if isinstance(outcome, bool) or not isinstance(outcome, int | str):
            raise ValueError(f"outcome must be a status code or one of {OUTCOMES}")
        if isinstance(outcome, str) and outcome.isdigit():
            outcome = int(outcome)
        given = list((headers or {}).items())
        hdrs = [(k, str(v)) for k, v in given if v is not None]  # None: leave that header out
        if isinstance(outcome, int):
            if not 100 <= outcome <= 599:
                raise ValueError("status code out of range")
            if outcome == 429 and not any(k.lower() == "retry-after" for k, _ in given):
                hdrs.append(("Retry-After", "1"))
            planned = Outcome("status", outcome, hdrs, body, source="script")
        elif outcome in OUTCOMES:
            planned = Outcome(outcome, 504 if outcome == "ambiguous" else None, hdrs, body, source="script")
        else:
            raise ValueError(f"outcome must be a status code or one of {OUTCOMES}")
        entry = ScriptEntry((method or "*").upper(), re.compile(path_regex), planned, times,
                            re.compile(query_regex) if query_regex else None)
        with self.lock:
            self.script_entries.append(entry)

    def reset(self) -> None:
        """The faults as constructed, their RNG reseeded, no script, full rate-limit buckets."""
        with self.lock:
            self.faults.update(**self._initial)
            self.script_entries.clear()
            self.quotas.clear()
            self.reseed()

    def clear_script(self) -> None:
        with self.lock:
            self.script_entries.clear()

    def pending_script(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {"method": e.method, "path_regex": e.pattern.pattern, "outcome": e.outcome.status
                 or e.outcome.kind, "remaining": e.remaining}
                for e in self.script_entries
            ]  # fmt: skip

    def _from_script(self, method: str, path: str, query: str) -> Outcome | None:
        if not self.script_entries:
            return None
        with self.lock:
            for entry in self.script_entries:
                if entry.matches(method, path, query):
                    entry.remaining -= 1
                    if entry.remaining <= 0:
                        self.script_entries.remove(entry)
                    return entry.outcome
        return None

    # ------------------------------------------------------------------ decide

    def reseed(self, seed: int | None = None) -> None:
        base = seed if seed is not None else self.faults.seed if self.faults.seed is not None else self._seed
        self.rng = random.Random(base)

    def _rate_limited(self, key: tuple[str, str]) -> Outcome | None:
        f = self.faults
        if not f.rate_limit:
            return None
        shape = (f.rate_shape, f.rate_limit, f.rate_burst, f.rate_window_s)
        now = time.monotonic()
        held = self.quotas.get(key)
        if held is None or held[0] != shape:  # a new limit starts full
            held = self.quotas[key] = (shape, quota(f.rate_shape, f.rate_limit, burst=f.rate_burst,
                                                    window_s=f.rate_window_s, now=now))
        wait = held[1].take(now)
        if not wait:
            return None
        retry_after = max(1, math.ceil(wait))  # whole seconds, as HTTP says: the real wait may be far less
        body = {"detail": f"Request was throttled. Expected available in {retry_after} seconds."}
        headers = [("Retry-After", str(retry_after))] if f.rate_retry_after else []
        return Outcome("status", 429, headers, body, source="rate_limit")

    def decide(self, method: str, path: str, credential: tuple[str, str], query: str = "") -> Outcome:
        scripted = self._from_script(method, path, query)
        if scripted is not None:
            return scripted
        limited = self._rate_limited(credential)
        if limited is not None:
            return limited
        f = self.faults
        if not (f.p_5xx or f.p_html_502 or f.p_drop or f.p_timeout or f.p_bad_json
                or f.p_ambiguous_write or f.p_latency or f.p_429 or f.p_429_bare
                or f.p_contradictory_page or f.p_slow):  # fmt: skip
            return PASS
        pick, lag, variant = self.rng.random(), self.rng.random(), self.rng.random()
        delay = f.latency_ms / 1000 if lag < f.p_latency else 0.0
        kind, status = "pass", None
        edge = 0.0
        for name, p in (("5xx", f.p_5xx), ("html_502", f.p_html_502), ("drop", f.p_drop),
                        ("timeout", f.p_timeout), ("bad_json", f.p_bad_json),
                        ("ambiguous", f.p_ambiguous_write), ("429", f.p_429),
                        ("429_bare", f.p_429_bare), ("contradictory", f.p_contradictory_page),
                        ("slow", f.p_slow)):  # fmt: skip
            edge += p
            if pick < edge:
                kind = name
                break
        headers: list[tuple[str, str]] = []
        if kind == "5xx":
            kind, status = "status", SERVER_ERRORS[int(variant * len(SERVER_ERRORS))]
        elif kind in ("429", "429_bare"):
            if kind == "429":
                headers.append(("Retry-After", str(max(0, math.ceil(f.retry_after_s)))))
            kind, status = "status", 429
        elif kind == "contradictory":
            kind = CONTRADICTORY[0] if variant < 0.5 else CONTRADICTORY[1]
            if method != "GET":
                kind = "pass"
        elif kind == "bad_json" and method != "GET":
            kind = "pass"
        elif kind == "ambiguous":
            if method not in WRITE_METHODS:
                kind = "pass"
            elif f.ambiguous_mode == "drop" or (f.ambiguous_mode == "mixed" and variant >= 0.5):
                kind = "ambiguous_drop"
        if kind == "pass" and not delay:
            return PASS
        body = {"detail": f"Sandbox fault: upstream answered {status}."} if status else None
        if status == 429:
            body = {"detail": "Request was throttled."}
        return Outcome(kind, status, headers, body, delay, variant)
