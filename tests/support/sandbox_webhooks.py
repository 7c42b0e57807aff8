"""The sandbox's webhook deliveries as a receiver sees them: a listener on loopback that records each POST
(answering queued statuses first, and holding answers while a gate is shut), the signature a receiver
recomputes, a subscription made through the API, and the canary key the tests give the workspace."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.sandbox_http import HOOKS, api_client

SIGNATURE = "x-sd-webhook-content-hash"
CANARY_KEY = base64.b64encode(b"canary-webhook-key-" + bytes(range(45))).decode()
LIFECYCLE = ["CONTRACT_CREATED", "CONTRACT_SENT_TO_COUNTERPARTY", "CONTRACT_SIGNATURE_REQUESTED",
             "CONTRACT_SIGNED", "CONTRACT_EXECUTED", "CONTRACT_PROCESS_METRIC_UPDATED"]  # fmt: skip
FAST = {"attempts": 4, "backoff_s": 0.1, "timeout_s": 2.0}  # the delivery settings the tests' sandboxes use


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float

    def json(self):
        return json.loads(self.body)


class Listener:
    """Records every POST; answers the queued statuses first (then 200), once `gate` is open."""

    def __init__(self, statuses: tuple[int, ...] = (), gate: threading.Event | None = None):
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        self.statuses: queue.SimpleQueue[int] = queue.SimpleQueue()
        for status in statuses:
            self.statuses.put(status)
        self.gate = gate
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with listener.arrived:
                    listener.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body, time.monotonic()))  # fmt: skip
                    listener.arrived.notify_all()
                if listener.gate is not None:
                    listener.gate.wait(10)
                status = 200 if listener.statuses.empty() else listener.statuses.get()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="test-webhook-listener",
                                       daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:  # returns as soon as they are in
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), (
                f"{len(self.received)} of {count} deliveries arrived"
            )
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)



def subscribe(sandbox, url: str, activities: list[str], **extra) -> dict:
    """A subscription made through the API, as a SpotDraft user makes one; its answer."""
    with api_client(sandbox) as api:
        answer = api.post(HOOKS, json={"title": "test hook", "url": url, "only_for_activities": activities, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def signed(key_b64: str, body: bytes) -> str:
    """The signature a receiver computes for `body` with the workspace's key (Base64), as the header carries it."""
    return hmac.new(base64.b64decode(key_b64), body, hashlib.sha512).hexdigest()
