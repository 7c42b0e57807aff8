"""Sending webhook deliveries: one ordered lane per URL, retried with backoff, every attempt logged.

A lane is a queue and a thread, started the first time something is sent to its URL, so a sandbox
with no subscriptions starts no thread at all. A lane sends one delivery at a time, in the order
they were submitted, and retries a delivery (a non-2xx answer, a timeout, a refused connection)
before it moves on: a later event never overtakes an earlier one to the same URL, as with
SpotDraft. Redirects are not followed and the environment's proxies are not used: the sandbox
posts straight to the URL it was given. Closing stops every lane and joins its thread.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import itertools
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import httpx

SIGNATURE_HEADER = "X-SD-WEBHOOK-CONTENT-HASH"
RECENT_DELIVERIES = 200  # kept, bytes and all, so a test can replay one...
REPLAYABLE_BYTES = 1024 * 1024  # ...unless it is bigger than this (a big oversized one is not kept)
LOG_LIMIT = 10_000


@dataclass
class DeliverySettings:
    """How hard the sandbox tries. Defaults are a patient sender; tests shorten the backoff."""

    attempts: int = 4  # per event delivery, the first one included
    backoff_s: float = 1.0  # wait before the second attempt; doubled before each later one
    max_backoff_s: float = 60.0
    timeout_s: float = 5.0  # connect, write and read, each

    def update(self, **changes: Any) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown delivery settings: {sorted(unknown)}")
        attempts = int(changes.get("attempts", self.attempts))
        numbers = {name: float(changes.get(name, getattr(self, name))) for name in names - {"attempts"}}
        if attempts < 1 or any(value < 0 for value in numbers.values()) or numbers["timeout_s"] <= 0:
            raise ValueError("attempts must be >= 1, timeout_s > 0 and the backoffs >= 0")
        self.attempts = attempts
        for name, value in numbers.items():
            setattr(self, name, value)

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Delivery:
    """One body for one URL: sent, and retried, until an attempt succeeds or none are left."""

    id: int
    url: str
    body: bytes
    signature: str | None  # None: sent without the header
    activity: str
    contract_id: int | None
    kind: str = "event"  # "event" for a subscription's, else the misbehaviour asked for
    webhook_id: int | None = None
    custom_headers: dict[str, str] = field(default_factory=dict)
    attempts: int = 1
    finished: concurrent.futures.Future = field(default_factory=concurrent.futures.Future, repr=False)

    def headers(self) -> dict[str, str]:
        headers = {**self.custom_headers, "content-type": "application/json"}
        if self.signature is not None:
            headers[SIGNATURE_HEADER] = self.signature
        return headers


@dataclass
class DeliveryAttempt:
    """What the delivery log shows of one POST. The body itself is not kept here, only its digest."""

    seq: int
    delivery_id: int
    webhook_id: int | None
    url: str
    activity: str
    contract_id: int | None
    kind: str
    attempt: int
    time: float  # when the POST started (epoch seconds)
    status: int | None  # the receiver's answer; None when there was none
    error: str | None  # why there was no answer: "ConnectError", "ReadTimeout", ...
    duration_ms: float
    size: int
    body_sha256: str
    signature: str | None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DeliveryLog:
    def __init__(self, limit: int = LOG_LIMIT):
        self._attempts: deque[DeliveryAttempt] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self.total = 0

    def add(self, delivery: Delivery, attempt: int, started: float, status: int | None, error: str | None,
            duration_ms: float) -> DeliveryAttempt:  # fmt: skip
        with self._lock:
            self.total += 1
            record = DeliveryAttempt(
                self.total, delivery.id, delivery.webhook_id, delivery.url, delivery.activity, delivery.contract_id,
                delivery.kind, attempt, started, status, error, round(duration_ms, 3), len(delivery.body),
                hashlib.sha256(delivery.body).hexdigest(), delivery.signature,
            )  # fmt: skip
            self._attempts.append(record)
        return record

    def records(self, url: str | None = None, activity: str | None = None,
                kind: str | None = None) -> list[DeliveryAttempt]:  # fmt: skip
        """Attempts oldest first, optionally only those to `url`, of `activity`, or of `kind`."""
        with self._lock:
            found = list(self._attempts)
        return [a for a in found if (url is None or a.url == url) and (activity is None or a.activity == activity)
                and (kind is None or a.kind == kind)]  # fmt: skip

    def reset(self) -> None:
        with self._lock:
            self._attempts.clear()
            self.total = 0


class Sender:
    """The lanes. `still_wanted` is asked before each attempt (a removed subscription stops retries)."""

    def __init__(self, settings: DeliverySettings, still_wanted: Callable[[Delivery], bool]):
        self.settings = settings
        self._initial = settings.as_dict()
        self.log = DeliveryLog()
        self._still_wanted = still_wanted
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._lanes: dict[str, tuple[queue.SimpleQueue[Delivery | None], threading.Thread]] = {}
        self._pending = 0
        self._stop = threading.Event()
        self._closed = False
        self._recent: OrderedDict[int, Delivery] = OrderedDict()
        self._ids = itertools.count(1)
        self._lane_names = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    @property
    def lanes(self) -> int:
        with self._lock:
            return len(self._lanes)

    def submit(self, delivery: Delivery) -> bool:
        """Queue `delivery` on its URL's lane; False (and finished with no attempt) once closed."""
        with self._lock:
            if self._closed:
                delivery.finished.set_result([])
                return False
            if len(delivery.body) <= REPLAYABLE_BYTES:
                self._recent[delivery.id] = delivery
            while len(self._recent) > RECENT_DELIVERIES:
                self._recent.popitem(last=False)
            lane = self._lanes.get(delivery.url)
            if lane is None:
                lane = self._lanes[delivery.url] = self._start_lane(delivery.url)
            self._pending += 1
            lane[0].put(delivery)
        return True

    def find(self, delivery_id: int) -> Delivery | None:
        with self._lock:
            return self._recent.get(delivery_id)

    def latest(self, url: str | None = None) -> Delivery | None:
        """The most recent subscription delivery (to `url`, when given) still kept for replay."""
        with self._lock:
            return next((d for d in reversed(self._recent.values())
                         if d.kind == "event" and (url is None or d.url == url)), None)  # fmt: skip

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or being sent; False if that took longer than `timeout`."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def open(self) -> None:
        with self._lock:
            self._closed = False
            self._stop.clear()

    def reset(self) -> None:
        """Drop every queued delivery and lane (closing them), forget the sent ones, and start over
        with the settings it was made with."""
        was_closed = self._closed
        self.close()
        with self._lock:
            self.settings.update(**self._initial)
            self._recent.clear()
            self._ids = itertools.count(1)
            self._lane_names = itertools.count(1)
        self.log.reset()
        if not was_closed:
            self.open()

    def close(self, timeout: float | None = None) -> None:
        """Stop every lane: queued deliveries are dropped, one in flight is given `timeout` to end."""
        with self._lock:
            self._closed = True
            self._stop.set()
            lanes, self._lanes = list(self._lanes.values()), {}
        for lane_queue, _ in lanes:
            lane_queue.put(None)
        wait = timeout if timeout is not None else self.settings.timeout_s + 1
        for _, thread in lanes:
            thread.join(wait)

    # ------------------------------------------------------------------ the lane

    def _start_lane(self, url: str) -> tuple[queue.SimpleQueue[Delivery | None], threading.Thread]:
        lane_queue: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
        thread = threading.Thread(target=self._run_lane, args=(lane_queue,), daemon=True,
                                  name=f"sandbox-webhook-lane-{next(self._lane_names)}")  # fmt: skip
        thread.start()
        return lane_queue, thread

    def _run_lane(self, lane_queue: queue.SimpleQueue[Delivery | None]) -> None:
        with httpx.Client(trust_env=False, follow_redirects=False) as client:
            while (delivery := lane_queue.get()) is not None:
                attempts: list[DeliveryAttempt] = []
                try:
                    if not self._stop.is_set():
                        attempts = self._deliver(client, delivery)
                finally:
                    delivery.finished.set_result(attempts)
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()

    def _deliver(self, client: httpx.Client, delivery: Delivery) -> list[DeliveryAttempt]:
        attempts: list[DeliveryAttempt] = []
        for number in range(1, delivery.attempts + 1):
            if not self._still_wanted(delivery):
                break
            attempt = self._post(client, delivery, number)
            attempts.append(attempt)
            if attempt.succeeded or number == delivery.attempts:
                break
            if self._stop.wait(self.settings.backoff(number)):
                break
        return attempts

    def _post(self, client: httpx.Client, delivery: Delivery, number: int) -> DeliveryAttempt:
        started, clock = time.time(), time.perf_counter()
        status, problem = None, None
        try:
            # Streamed and closed unread: only the status matters, whatever the receiver sends back.
            with client.stream("POST", delivery.url, content=delivery.body, headers=delivery.headers(),
                               timeout=self.settings.timeout_s) as response:  # fmt: skip
                status = response.status_code
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
        return self.log.add(delivery, number, started, status, problem, (time.perf_counter() - clock) * 1000)
