"""Where verified deliveries go: the Prefect API's events endpoint, with an answer for each one.

The design, and why: docs/design/webhooks.md (section `webhooks/prefect_events.py`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from types import TracebackType
from typing import Protocol
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient, get_client
from prefect.events import Event
from prefect.events.filters import EventFilter, EventIDFilter
from prefect.settings import PREFECT_API_URL

logger = logging.getLogger("webhooks.receiver")
STARTUP_CHECK_TIMEOUT_S = 5.0


class EventsUnavailable(RuntimeError):
    """The Prefect API could not be asked or told; the delivery must not be acknowledged."""


class EventsNotConfigured(RuntimeError):
    """No Prefect API to send to; the receiver does not start."""


class EventSink(Protocol):
    """What the receiver needs from Prefect; the tests give it the real one."""

    async def __aenter__(self) -> EventSink: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    async def stored(self, event_ids: list[UUID]) -> set[UUID]: ...

    async def send(self, events: list[dict]) -> None: ...


class PrefectEventSink:
    """Events sent to, and looked up in, the Prefect API that PREFECT_API_URL names."""

    def __init__(self) -> None:
        if not PREFECT_API_URL.value():
            raise EventsNotConfigured(
                "PREFECT_API_URL is not set: the receiver sends events to a running Prefect server "
                "(or Prefect Cloud), e.g. PREFECT_API_URL=http://127.0.0.1:4200/api"
            )
        self._client: PrefectClient | None = None

    async def __aenter__(self) -> PrefectEventSink:
        self._client = get_client()
        await self._client.__aenter__()
        # The client's first request also fetches a CSRF token: pay for it now rather than in the
        # first delivery's answer, and say at once if the API cannot be reached.
        try:
            async with asyncio.timeout(STARTUP_CHECK_TIMEOUT_S):
                unreachable = await self._client.api_healthcheck()
        except TimeoutError as timeout:
            unreachable = timeout
        if unreachable is not None:
            logger.warning("the Prefect API at %s does not answer yet (%s); events wait in the outbox until it does",
                           PREFECT_API_URL.value(), type(unreachable).__name__)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._client is not None:
            await self._client.__aexit__(exc_type, exc, tb)
            self._client = None

    async def stored(self, event_ids: list[UUID]) -> set[UUID]:
        """Those of `event_ids` the server holds (within its retention, 7 days by default)."""
        try:
            page = await self._api.read_events(EventFilter(id=EventIDFilter(id=event_ids)), limit=len(event_ids))
        except httpx.HTTPError as error:
            raise EventsUnavailable(f"could not read events from the Prefect API ({_why(error)})") from None
        return {event.id for event in page.events}

    async def send(self, events: list[dict]) -> None:
        """POST the events (JSON-ready dicts, as `event_json` writes them) in one request; the server answers
        once they are on its event bus."""
        body = json.dumps(events, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
        try:
            await self._api.request("POST", "/events", content=body, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as error:
            raise EventsUnavailable(f"could not send events to the Prefect API ({_why(error)})") from None

    @property
    def _api(self) -> PrefectClient:
        if self._client is None:
            raise RuntimeError("PrefectEventSink is used outside `async with`")
        return self._client


def event_json(event: Event) -> str:
    """The event as the JSON text the events endpoint takes (one event; `send` posts a list of them).

    Raises ValueError (UnicodeEncodeError for a lone surrogate, ValueError for NaN) for an event that
    cannot be sent; webhooks.delivery makes a delivery's text sendable first, so that would be a bug.
    """
    text = json.dumps(event.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text.encode("utf-8")  # what the request will be: a lone surrogate fails here, not later in the relay
    return text


def _why(error: httpx.HTTPError) -> str:
    """The error's kind and, for an answer, its status: not its text, which may quote a whole response."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"{type(error).__name__}, status {error.response.status_code}"
    return type(error).__name__
