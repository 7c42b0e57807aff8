"""One event per delivery, however often SpotDraft sends it, also across receiver restarts.

The design, and why: docs/design/webhooks.md (section `webhooks/once_per_delivery.py`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import Counter, OrderedDict

from prefect.events import Event

from webhooks.delivery import Delivery
from webhooks.prefect_events import EventSink, EventsUnavailable

logger = logging.getLogger("webhooks.receiver")


class Outcome(enum.Enum):
    EMITTED = "accepted"
    DUPLICATE = "duplicate"


class DuplicateGuard:
    def __init__(self, sink: EventSink, *, capacity: int = 10_000, timeout: float = 5.0) -> None:
        self._sink = sink
        self._capacity = capacity
        self._timeout = timeout
        self._emitted: OrderedDict[str, None] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: Counter[str] = Counter()

    async def emit_once(self, delivery: Delivery, event: Event) -> Outcome:
        """Emit the delivery's event (`delivery.to_event`, built by the caller) unless it was emitted before.

        Raises EventsUnavailable when Prefect cannot be asked or told, and for anything else that goes
        wrong while talking to it (logged with its traceback): the event itself is already known to be
        sendable, so whatever fails here is about Prefect or this process, and a later attempt may succeed.
        """
        digest = delivery.digest
        lock = self._locks.setdefault(digest, asyncio.Lock())
        self._waiting[digest] += 1
        try:
            async with lock:
                if digest in self._emitted:
                    self._emitted.move_to_end(digest)
                    return Outcome.DUPLICATE
                outcome = await self._emit_unless_stored(delivery, event)
                self._remember(digest)
                return outcome
        finally:
            self._waiting[digest] -= 1
            if not self._waiting[digest]:
                del self._waiting[digest], self._locks[digest]

    async def _emit_unless_stored(self, delivery: Delivery, event: Event) -> Outcome:
        try:
            async with asyncio.timeout(self._timeout):
                if await self._sink.already_stored(delivery.event_id):
                    return Outcome.DUPLICATE
                await self._sink.send(event)
                return Outcome.EMITTED
        except TimeoutError:
            raise EventsUnavailable(f"the Prefect API did not answer within {self._timeout:g} s") from None
        except EventsUnavailable:
            raise
        except Exception as error:  # never a 500: SpotDraft would retry it, holding back every later delivery
            logger.exception("unexpected failure while emitting event %s", delivery.event_id)
            raise EventsUnavailable(f"unexpected {type(error).__name__} while talking to the Prefect API") from None

    def _remember(self, digest: str) -> None:
        self._emitted[digest] = None
        if len(self._emitted) > self._capacity:
            self._emitted.popitem(last=False)
