"""The SpotDraft webhook receiver: `POST /spotdraft/webhooks` in; a stored change to sync and one Prefect event out.

The design, and why: docs/design/webhooks.md (section `webhooks/receiver.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from webhooks.sync_worker import SyncWorker

from store import engine_for, webhook_outbox
from webhooks.delivery import Delivery, DeliveryRefused, delivery_digest
from webhooks.event_relay import EventRelay
from webhooks.prefect_events import EventSink, PrefectEventSink, event_json
from webhooks.signature import SIGNATURE_HEADER, signature_matches

WEBHOOK_PATH = "/spotdraft/webhooks"
DEFAULT_MAX_BODY_BYTES = 256 * 1024
BODY_TIMEOUT_S = 10.0
STORE_TIMEOUT_S = 5.0  # storing a delivery takes milliseconds; past this SpotDraft is told to deliver it again
RETRY_AFTER_S = 30

logger = logging.getLogger("webhooks.receiver")


class _BodyTooLarge(Exception):
    pass


def create_app(key: bytes, *, database_url: str, sink: EventSink | None = None, sync_worker: SyncWorker | None = None,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, body_timeout: float = BODY_TIMEOUT_S,
               store_timeout: float = STORE_TIMEOUT_S) -> Starlette:
    """The receiver as an ASGI app; `key` is the decoded key (signature.decode_key), `database_url` where deliveries
    are stored (webhook_deliveries, contract_syncs), `sink` defaults to Prefect; `sync_worker`, if given, runs
    beside it (webhooks.sync_worker)."""
    events = sink if sink is not None else PrefectEventSink()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with events:
            app.state.relay = EventRelay(database_url, events)
            relaying = asyncio.create_task(app.state.relay.run(), name="event relay")
            try:
                await asyncio.to_thread(_open_database, database_url)
                if sync_worker is not None:
                    sync_worker.start()
                yield
            finally:
                if sync_worker is not None:
                    await asyncio.to_thread(sync_worker.stop)
                relaying.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relaying

    async def receive_delivery(request: Request) -> Response:
        received_at = datetime.now(UTC)
        sender = request.client.host if request.client else "unknown"
        declared = request.headers.get("content-length", "")  # the HTTP server has refused one that is not a number
        if declared.isdigit() and int(declared) > max_body_bytes:
            return _too_large(max_body_bytes)
        try:
            body = await _read_body(request, max_body_bytes, body_timeout)
        except _BodyTooLarge:
            return _too_large(max_body_bytes)
        except TimeoutError:
            return _answer(408, f"the body did not arrive within {body_timeout:g} s", close=True)
        except ClientDisconnect:
            logger.info("a sender at %s went away before its delivery arrived whole; nothing done", sender)
            return _answer(400, "the connection closed before the body arrived", close=True)

        if not signature_matches(key, body, request.headers.get(SIGNATURE_HEADER)):
            logger.warning("refused a delivery from %s: %s missing or wrong", sender, SIGNATURE_HEADER)
            return _answer(401, f"{SIGNATURE_HEADER} is missing or does not sign this body")
        try:
            delivery = Delivery.from_body(body)
            stored_event = event_json(delivery.to_event(received_at))  # a fault in it is the delivery's: 400
        except DeliveryRefused as refusal:
            logger.warning("refused a signed delivery (sha256 %s): %s", delivery_digest(body)[:16], refusal)
            return _answer(400, str(refusal))
        except Exception as error:  # never a 500: SpotDraft would retry it, holding back every later delivery
            # Its type only: the text of a validation error may quote the delivery.
            logger.error("a signed delivery (sha256 %s) could not become an event: %s",
                         delivery_digest(body)[:16], type(error).__name__)
            return _answer(400, f"the delivery could not become an event ({type(error).__name__})")
        try:
            async with asyncio.timeout(store_timeout):
                new = await asyncio.to_thread(_store, database_url, delivery, stored_event)
        except Exception as error:  # the database: SpotDraft delivers it again later
            logger.error("delivery for contract %s (%s) not acknowledged: it could not be stored (%s)",
                         delivery.contract_id, delivery.activity, _why(error))
            return _answer(503, "the delivery cannot be stored right now; deliver again later",
                           headers={"Retry-After": str(RETRY_AFTER_S)})
        request.app.state.relay.wake()
        logger.info("contract %s %s: %s as event %s", delivery.contract_id, delivery.activity,
                    "stored" if new else "replay, already stored", delivery.event_id)
        return JSONResponse({"status": "accepted" if new else "duplicate", "event": delivery.event_name,
                             "event_id": str(delivery.event_id)}, status_code=202 if new else 200)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route(WEBHOOK_PATH, receive_delivery, methods=["POST"]),
                             Route("/healthz", health, methods=["GET"])],
                     lifespan=lifespan)


def _open_database(database_url: str) -> None:
    """The database ready (its schema upgraded) before the first delivery; if it cannot be reached yet, deliveries
    are answered 503 until it can."""
    try:
        engine_for(database_url)
    except Exception as error:
        logger.warning("the database does not answer yet (%s); deliveries get 503 until it does", _why(error))


def _store(database_url: str, delivery: Delivery, event: str) -> bool:
    return webhook_outbox.record_delivery(engine_for(database_url), event_id=str(delivery.event_id),
                                          contract_id=delivery.contract_id, event_name=delivery.event_name,
                                          event=event)


def _why(error: BaseException) -> str:
    """The error's kind and the first line of its own text: never a statement's parameters (the delivery)."""
    if isinstance(error, TimeoutError):
        return "no answer in time"
    text = str(getattr(error, "orig", None) or error)
    return f"{type(error).__name__}: {text.splitlines()[0][:200]}" if text else type(error).__name__


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The raw body, read in pieces and abandoned as soon as it passes `limit` bytes."""
    chunks, size = [], 0
    async with asyncio.timeout(timeout):
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge
            chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> Response:
    return _answer(413, f"deliveries are limited to {limit} bytes", close=True)


def _answer(status: int, detail: str, *, close: bool = False, headers: dict[str, str] | None = None) -> Response:
    """A JSON error answer; `close` ends the connection, so a body we did not read is never read."""
    return JSONResponse({"detail": detail}, status_code=status,
                        headers={**(headers or {}), **({"Connection": "close"} if close else {})})
