"""The webhook receiver's app in-process (`create_app` under uvicorn in a thread), where a case needs no Prefect
server: a body that trickles in is cut off, and a delivery that cannot reach a Prefect API is not acknowledged."""

from __future__ import annotations

import time

import httpx
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.support.serving import serving
from tests.support.webhook_deliveries import KEY, KEY_TEXT, SIGNATURE_HEADER, delivery, head, raw_exchange, sign
from tools.prefect_server import free_port
from webhooks.receiver import create_app


class _NothingMayBeEmitted:
    """A sink for a path that must never reach Prefect: touching it fails the request, and the test."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        return None

    async def already_stored(self, event_id):
        raise AssertionError("a delivery that never arrived whole reached the events")

    send = already_stored


def test_a_body_that_trickles_in_is_cut_off():
    """A sender that stops halfway holds the connection only for the body timeout, and gets 408."""
    with serving(create_app(KEY, sink=_NothingMayBeEmitted(), body_timeout=0.5)) as port:
        _, raw = delivery()
        started = time.monotonic()
        answer = raw_exchange(port, head(sign(raw), Content_Length=str(len(raw))), [raw[:100]])
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - started < 5


def test_without_prefect_a_delivery_is_not_acknowledged(caplog):
    """The Prefect API is down: 503 with Retry-After within the emit timeout, so SpotDraft delivers again."""
    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        with serving(create_app(KEY)) as port:
            _, raw = delivery()
            started = time.perf_counter()
            answer = httpx.post(f"http://127.0.0.1:{port}/spotdraft/webhooks", content=raw,
                                headers={SIGNATURE_HEADER: sign(raw)}, timeout=30)
            assert answer.status_code == 503 and answer.headers["Retry-After"] == "30", answer.text
            assert time.perf_counter() - started < 6  # the emit timeout (5 s), not the Prefect client's retries
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    assert "does not answer yet" in caplog.text and KEY_TEXT not in caplog.text
