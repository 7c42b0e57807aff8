"""The webhook receiver's app in-process (`create_app` under uvicorn in a thread), where a case needs no Prefect
server: a body that trickles in is cut off, and a delivery that cannot reach a Prefect API is acknowledged once
stored, its event waiting in the outbox."""

from __future__ import annotations

import time

import httpx
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.support.serving import serving
from tests.support.webhook_deliveries import KEY, KEY_TEXT, SIGNATURE_HEADER, delivery, head, raw_exchange, sign
from tests.support.webhook_sinks import outbox_rows
from tools.prefect_server import free_port
from webhooks.receiver import create_app


class _NothingMayBeEmitted:
    """A sink for a path that must never reach Prefect: touching it fails the request, and the test."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        return None

    async def stored(self, event_ids):
        raise AssertionError("a delivery that never arrived whole reached the events")

    send = stored


def test_a_body_that_trickles_in_is_cut_off(sqlite_url):
    """A sender that stops halfway holds the connection only for the body timeout, and gets 408."""
    with serving(create_app(KEY, database_url=sqlite_url, sink=_NothingMayBeEmitted(), body_timeout=0.5)) as port:
        _, raw = delivery()
        started = time.monotonic()
        answer = raw_exchange(port, head(sign(raw), Content_Length=str(len(raw))), [raw[:100]])
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - started < 5


def test_without_prefect_a_delivery_is_acknowledged_once_stored_and_its_event_waits(caplog, sqlite_url):
    """The Prefect API is down: the delivery is stored (202 within milliseconds, not the Prefect client's retries),
    and its event stays in the outbox, unsent, for the relay to send when the API is back."""
    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        with serving(create_app(KEY, database_url=sqlite_url)) as port:
            _, raw = delivery()
            started = time.perf_counter()
            answer = httpx.post(f"http://127.0.0.1:{port}/spotdraft/webhooks", content=raw,
                                headers={SIGNATURE_HEADER: sign(raw)}, timeout=30)
            assert answer.status_code == 202, answer.text
            assert time.perf_counter() - started < 2
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            time.sleep(2)  # the relay tries, and fails
            [row] = outbox_rows(sqlite_url)
            assert row["event_id"] == answer.json()["event_id"] and row["emitted_at"] is None
    assert "does not answer yet" in caplog.text and "events wait in the outbox" in caplog.text
    assert KEY_TEXT not in caplog.text
