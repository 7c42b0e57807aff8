"""One event per delivery, however often SpotDraft sends it, also across receiver restarts.

Three layers, from the fastest to the one that survives everything:
1. a bounded in-memory set of the digests this process has emitted (most recent kept);
2. on a miss, the Prefect server is asked whether it already holds the delivery's event id
   (the id is derived from the body, see delivery.py): this is what makes a replay after a
   restart a duplicate, and what keeps a replay from firing triggers again;
3. the id itself: Prefect's server stores an event id once (SQLite: existing ids are skipped;
   PostgreSQL: ON CONFLICT DO NOTHING), its event bus drops a repeated id for 5 minutes and its
   triggers skip an id they have seen for 30 minutes. That covers the window where layer 2 cannot:
   the event persister writes in batches (every 5 s by default), so a replay arriving within
   seconds of a restart may not find the first event yet and is sent again, harmlessly.
Without layer 2, a replay more than 30 minutes later would store nothing but fire the triggers
again. Deliveries of the same bytes at the same moment wait for each other (a lock per digest),
so only the first one talks to Prefect.
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


class ReplayGuard:
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
