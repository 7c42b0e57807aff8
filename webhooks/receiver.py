"""The SpotDraft webhook receiver: `POST /spotdraft/webhooks` in, one Prefect event out.

The design, and why: docs/design/webhooks.md (section `webhooks/receiver.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from webhooks.delivery import Delivery, DeliveryRefused, delivery_digest
from webhooks.once_per_delivery import DuplicateGuard, Outcome
from webhooks.prefect_events import EventSink, EventsUnavailable, PrefectEventSink, event_body
from webhooks.signature import SIGNATURE_HEADER, signature_matches

WEBHOOK_PATH = "/spotdraft/webhooks"
DEFAULT_MAX_BODY_BYTES = 256 * 1024
BODY_TIMEOUT_S = 10.0
EMIT_TIMEOUT_S = 5.0
RETRY_AFTER_S = 30

logger = logging.getLogger("webhooks.receiver")


class _BodyTooLarge(Exception):
    pass


def create_app(key: bytes, *, sink: EventSink | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               body_timeout: float = BODY_TIMEOUT_S, emit_timeout: float = EMIT_TIMEOUT_S,
               remembered_deliveries: int = 10_000) -> Starlette:
    """The receiver as an ASGI app; `key` is the decoded key (signature.decode_key), `sink` defaults to Prefect."""
    events = sink if sink is not None else PrefectEventSink()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with events:
            app.state.guard = DuplicateGuard(events, capacity=remembered_deliveries, timeout=emit_timeout)
            yield

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
            event = delivery.to_event(received_at)
            event_body(event)  # what Prefect will be sent, written once here: a fault in it is the delivery's
        except DeliveryRefused as refusal:
            logger.warning("refused a signed delivery (sha256 %s): %s", delivery_digest(body)[:16], refusal)
            return _answer(400, str(refusal))
        except Exception as error:  # never a 500: SpotDraft would retry it, holding back every later delivery
            # Its type only: the text of a validation error may quote the delivery.
            logger.error("a signed delivery (sha256 %s) could not become an event: %s",
                         delivery_digest(body)[:16], type(error).__name__)
            return _answer(400, f"the delivery could not become an event ({type(error).__name__})")
        try:
            outcome = await request.app.state.guard.emit_once(delivery, event)
        except EventsUnavailable as error:
            logger.error("delivery for contract %s (%s) not acknowledged: %s",
                         delivery.contract_id, delivery.activity, error)
            return _answer(503, "events cannot be recorded right now; deliver again later",
                           headers={"Retry-After": str(RETRY_AFTER_S)})
        logger.info("contract %s %s: %s as event %s", delivery.contract_id, delivery.activity,
                    "emitted" if outcome is Outcome.EMITTED else "replay, already", delivery.event_id)
        return JSONResponse({"status": outcome.value, "event": delivery.event_name, "event_id": str(delivery.event_id)},
                            status_code=202 if outcome is Outcome.EMITTED else 200)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route(WEBHOOK_PATH, receive_delivery, methods=["POST"]),
                             Route("/healthz", health, methods=["GET"])],
                     lifespan=lifespan)


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
