"""The receiver's connections: uvicorn's h11 protocol with a deadline for the request head and a cap on connections.

The design, and why: docs/design/webhooks.md (section `webhooks/connections.py`).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

DEFAULT_HEAD_TIMEOUT_S = 10.0
DEFAULT_LIMIT_CONCURRENCY = 100
DEFAULT_BACKLOG = 128
REPORT_EVERY_S = 10.0  # closed connections are logged as a count, at most once per this many seconds

logger = logging.getLogger("webhooks.receiver")


def receiver_protocol(head_timeout: float = DEFAULT_HEAD_TIMEOUT_S) -> type[ReceiverH11Protocol]:
    """The protocol class for uvicorn's `http=`, with its head deadline; the cap is uvicorn's `limit_concurrency`."""
    if not head_timeout > 0:
        raise ValueError(f"the head timeout must be a positive number of seconds, not {head_timeout!r}")
    return type("ReceiverH11Protocol", (ReceiverH11Protocol,), {"head_timeout": float(head_timeout)})


class _Tally:
    """Closed connections of one kind, logged as a count: the first at once, then at most once per REPORT_EVERY_S."""

    def __init__(self, loop: asyncio.AbstractEventLoop, message: str) -> None:
        self.loop, self.message, self.count, self.args = loop, message, 0, ()
        self.next_report: asyncio.TimerHandle | None = None

    def add(self, *args: Any) -> None:
        self.count, self.args = self.count + 1, args
        if self.next_report is None:
            self._report()

    def _report(self) -> None:
        self.next_report = None
        if self.count:
            logger.warning(self.message, self.count, *self.args)
            self.count = 0
            self.next_report = self.loop.call_later(REPORT_EVERY_S, self._report)


class _Book:
    """One server's (uvicorn's state object's): the connections waiting for a request head, oldest first,
    and the tallies of closed ones."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.waiting: dict[ReceiverH11Protocol, None] = {}
        self.timed_out = _Tally(loop, "closed %d connection(s) whose request head had not arrived within %g s")
        self.evicted = _Tally(loop, "closed %d connection(s) still waiting for a request head to make room "
                                    "(%d connections at most)")
        self.refused = _Tally(loop, "refused %d connection(s) with 503: all %d connections are busy with requests")


_books: weakref.WeakKeyDictionary[ServerState, _Book] = weakref.WeakKeyDictionary()


class ReceiverH11Protocol(H11Protocol):
    head_timeout: float = DEFAULT_HEAD_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        if self.server_state not in _books:
            _books[self.server_state] = _Book(self.loop)
        self._book = _books[self.server_state]
        self._waiting = self._book.waiting

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limit = self.limit_concurrency
        if limit is not None and len(self.connections) >= limit:  # uvicorn answers 503 to requests from here on
            oldest = next((c for c in self._waiting if c is not self), None)
            if oldest is None:
                self._close(b"503 Service Unavailable", b"Retry-After: 10\r\n")
                self._book.refused.add(limit)
                return
            oldest._close()
            self._book.evicted.add(limit)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if not self._between_requests():
            self._head_arrived()

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._await_head()  # before uvicorn looks at pipelined bytes, which may hold the next head whole
        super().on_response_complete()

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _await_head(self) -> None:
        self._head_arrived()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_timed_out)
        self._waiting[self] = None

    def _head_arrived(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        self._waiting.pop(self, None)

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        self._waiting.pop(self, None)
        if self.transport.is_closing() or self.transport.get_protocol() is not self or not self._between_requests():
            return
        partial_head = bool(self.conn.trailing_data[0])
        self._close(b"408 Request Timeout" if partial_head else None)
        self._book.timed_out.add(self.head_timeout)

    def _close(self, status: bytes | None = None, headers: bytes = b"") -> None:
        """Close the connection now, after a bodiless answer with `status` if one is given (no request was read)."""
        self._head_arrived()
        self.connections.discard(self)  # its room is free at once, not when the loop reports it closed
        if status is not None and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n"
                                 + headers + b"\r\n")
        self.transport.close()
