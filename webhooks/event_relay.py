"""The receiver's relay: each stored delivery's event to the Prefect API, in the order received, until it has it.

The design, and why: docs/design/webhooks.md (section `webhooks/event_relay.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

from store import engine_for, webhook_outbox
from webhooks.prefect_events import EventSink, EventsUnavailable

logger = logging.getLogger("webhooks.relay")

BATCH = 100  # events in one request (Prefect takes a list)
SEND_TIMEOUT_S = 10.0  # one exchange with the Prefect API, its client's own retries included
IDLE_S = 5.0  # a look at the outbox even when no delivery woke the relay (another receiver's rows)
BACKOFF_S, MAX_BACKOFF_S = 1.0, 10.0  # one request per attempt, whatever the backlog: cheap to repeat
HOUSEKEEPING_S = 60.0  # how often deliveries a sync covered are settled, old ones pruned, a backlog reported
STALE_SYNC = timedelta(minutes=5)  # a delivery unsynced this long says no sync worker runs (or all fail)


class EventRelay:
    """Run `run()` as a task beside the app; `wake()` after storing a delivery sends it at once."""

    def __init__(self, database_url: str, sink: EventSink) -> None:
        self._database_url = database_url
        self._sink = sink
        self._wake = asyncio.Event()
        self._failures = 0
        self._next_housekeeping = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            if self._failures:  # a wake-up does not shorten a backoff: the API is down, or the database
                await asyncio.sleep(min(MAX_BACKOFF_S, BACKOFF_S * 2 ** (self._failures - 1)))
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_S)
            self._wake.clear()
            try:
                await self.send_pending()
                await self._housekeeping()
            except EventsUnavailable as error:
                self._failed(f"events wait in the outbox: {error}")
            except Exception as error:  # the database: the rows stay, the next round tries again
                self._failed(f"the outbox could not be read or written ({type(error).__name__}: {_first_line(error)})")
            else:
                if self._failures:
                    logger.info("the relay is sending events again")
                self._failures = 0

    async def send_pending(self) -> int:
        """Send every unsent event the server does not already hold, oldest first; how many were sent."""
        sent = 0
        while batch := await asyncio.to_thread(webhook_outbox.unsent_events, self._engine(), BATCH):
            try:
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    held = await self._sink.stored([UUID(e.event_id) for e in batch])
                    fresh = [json.loads(e.event) for e in batch if UUID(e.event_id) not in held]
                    if fresh:
                        await self._sink.send(stamped(fresh))
            except TimeoutError:
                raise EventsUnavailable(f"the Prefect API did not answer within {SEND_TIMEOUT_S:g} s") from None
            await asyncio.to_thread(webhook_outbox.mark_sent, self._engine(), [e.event_id for e in batch])
            sent += len(fresh)
            if len(batch) < BATCH:
                break
        return sent

    async def _housekeeping(self) -> None:
        if time.monotonic() < self._next_housekeeping:
            return
        self._next_housekeeping = time.monotonic() + HOUSEKEEPING_S
        engine = self._engine()
        await asyncio.to_thread(webhook_outbox.settle_covered, engine)  # covered by any run, whoever started it
        await asyncio.to_thread(webhook_outbox.prune, engine)
        waiting = await asyncio.to_thread(webhook_outbox.backlog, engine)
        if waiting.oldest_unsynced is not None and waiting.now - waiting.oldest_unsynced > STALE_SYNC:
            logger.warning("%d deliveries wait for their contract's sync, the oldest since %s UTC: is a sync "
                           "worker running (python -m webhooks without --no-sync, or python -m webhooks.sync_worker)?",
                           waiting.unsynced, f"{waiting.oldest_unsynced:%Y-%m-%d %H:%M:%S}")

    def _engine(self):
        return engine_for(self._database_url)

    def _failed(self, message: str) -> None:
        self._failures += 1
        if self._failures == 1 or self._failures % 10 == 0:
            logger.warning("%s; trying again with backoff (attempt %d)", message, self._failures)


def stamped(events: list[dict]) -> list[dict]:
    """The events with `occurred` set to now, a microsecond apart in the order given.

    Prefect's triggers ignore an event older than the bucket they are filling (a "late" event): an event
    relayed after an outage, stamped when it was received, could be skipped by a user's automation. The
    delivery's own times stay in the payload.
    """
    now = datetime.now(UTC)
    return [{**event, "occurred": (now + timedelta(microseconds=i)).isoformat()} for i, event in enumerate(events)]


def _first_line(error: BaseException) -> str:
    """The start of an error's own text (a database error's statement and parameters stay out)."""
    text = str(getattr(error, "orig", None) or error)
    return text.splitlines()[0][:200] if text else ""
