"""What reached the server: the evidence tests use to count attempts and spot duplicates.

A record holds the method, path, query, the `user-email` and `client-id` headers, the answer's
status (or "drop"/"timeout") and the fault that shaped it. The `client-secret` is never recorded.
The log is bounded (oldest records fall off) so a long benchmark cannot exhaust memory, while
`total` keeps counting.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class RequestRecord:
    seq: int
    time: float
    listener: str  # "main", or "http" for the plain-http listener that only redirects
    method: str
    path: str
    query: str
    user_email: str | None
    client_id: str | None
    request_id: str = ""
    route: str | None = None  # the documented path template it matched
    status: int | str | None = None  # int, or "drop" / "timeout" when no answer was sent
    fault: str | None = None  # the injected outcome, e.g. "script:503", "random:drop", "rate_limit"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self, limit: int = 100_000):
        self._records: deque[RequestRecord] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self.total = 0

    def add(self, listener: str, method: str, path: str, query: str, user_email: str | None,
            client_id: str | None) -> RequestRecord:  # fmt: skip
        with self._lock:
            self.total += 1
            record = RequestRecord(
                self.total, time.time(), listener, method, path, query, user_email, client_id
            )
            self._records.append(record)
        return record

    def records(self, method: str | None = None, path: str | None = None) -> list[RequestRecord]:
        """Records oldest first; `path` matches the request path or the route template."""
        with self._lock:
            found = list(self._records)
        if method is not None:
            found = [r for r in found if r.method == method.upper()]
        if path is not None:
            found = [r for r in found if path in (r.path, r.route)]
        return found

    def counts(self) -> Counter[str]:
        """Requests per "METHOD /route/template" (or the raw path when nothing matched)."""
        return Counter(f"{r.method} {r.route or r.path}" for r in self.records())

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
            self.total = 0
