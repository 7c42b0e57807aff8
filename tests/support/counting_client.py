"""A SpotDraftClient whose transport records every request and answers 200: "nothing was sent" is a fact."""

from __future__ import annotations

import httpx

from client.http import SpotDraftClient


def counting_client() -> tuple[SpotDraftClient, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"ok": True})

    c = SpotDraftClient("cid", "test-secret-value", base_url="https://api.example.test",
                        transport=httpx.MockTransport(handler))
    return c, sent

