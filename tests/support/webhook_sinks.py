"""A stand-in for the Prefect API where only what the receiver hands over matters (the in-process receiver tests), and
the receiver's outbox read back."""

from __future__ import annotations

import time

import sqlalchemy as sa

from store import engine_for, webhook_deliveries
from webhooks.prefect_events import EventsUnavailable


class RecordingSink:
    """Every event the receiver's relay sends, as the JSON the events endpoint would get. While `down`, every call
    fails as the real sink does when the Prefect API cannot be reached; `held` are ids the "server" already has."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.requests = 0
        self.down = False
        self.held: set = set()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        return None

    async def stored(self, event_ids):
        self._answer()
        return {i for i in event_ids if i in self.held}

    async def send(self, events) -> None:
        self._answer()
        self.sent.extend(events)

    def _answer(self) -> None:
        self.requests += 1
        if self.down:
            raise EventsUnavailable("the Prefect API is down (a test's sink)")

    def wait_for(self, count: int, timeout: float = 20) -> list[dict]:
        """The events sent, once there are at least `count`."""
        deadline = time.monotonic() + timeout
        while len(self.sent) < count:
            assert time.monotonic() < deadline, f"{len(self.sent)} events sent, not {count}"
            time.sleep(0.02)
        return self.sent


def outbox_rows(database_url: str) -> list[dict]:
    with engine_for(database_url).connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(webhook_deliveries).order_by(
            webhook_deliveries.c.received_at)).mappings()]
