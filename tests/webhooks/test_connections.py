"""The receiver's connections are bounded in time and number: `python -m webhooks` as operators run it.

The receiver runs as a separate process (uvicorn, as `python -m webhooks` starts it) against the real
Prefect API of the `prefect_api` harness; clients are raw sockets on loopback that connect and send
nothing, half a request head, or a head a byte at a time. What is checked is what the server does:
it closes them (seen by the client as end of stream) within the head timeout and a margin, its open
file descriptors (/proc/<pid>/fd) come back down, and a signed delivery made meanwhile is answered
202 and becomes an event. The timeouts are configured small so the module runs in seconds.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prefect.settings import PREFECT_API_URL

from tests.support.paths import ROOT
from tests.support.prefect_rest import rest
from tools.prefect_server import free_port, stop_process_group

KEY = b"connections-test-key-1f4e9a"
PATH = "/spotdraft/webhooks"
HALF_HEAD = b"POST /spotdraft/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applica"


class Receiver:
    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"receiver-{self.port}.log"
        env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
               "SPOTDRAFT_WEBHOOK_KEY": base64.b64encode(KEY).decode()}
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "webhooks", "--port", str(self.port), "--no-sync",
                 "--database-url", f"sqlite:///{tmp_path / f'receiver-{self.port}.db'}", *args], cwd=ROOT, env=env,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.output()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the receiver did not start: {self.output()}"
            time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def deliver(self, contract_id: int) -> httpx.Response:
        body = json.dumps({"contract_id": contract_id, "activity": "CONTRACT_EXECUTED"}).encode()
        signature = hmac.new(KEY, body, hashlib.sha512).hexdigest()
        return httpx.post(f"{self.url}{PATH}", content=body, timeout=30,
                          headers={"X-SD-WEBHOOK-CONTENT-HASH": signature, "Content-Type": "application/json"})


@pytest.fixture
def start(prefect_api, tmp_path) -> Iterator:
    started: list[Receiver] = []

    def start_receiver(*args: str) -> Receiver:
        started.append(Receiver(tmp_path, *args))
        return started[-1]

    yield start_receiver
    for receiver in started:
        stop_process_group(receiver.process)


def connect(port: int, count: int, first: bytes = b"") -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if first:
            sock.sendall(first)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def closed_by_server(sockets: list[socket.socket], within: float, trickle: list[socket.socket] = (),
                     since: float | None = None) -> dict:
    """Wait until the server has closed every socket (end of stream), sending a byte on each of `trickle`
    every 0.2 s meanwhile; returns socket -> (seconds from `since` (default: now) until closed, bytes
    received). Fails once `within` seconds have passed since `since`."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    started = time.monotonic() if since is None else since
    received, closed = {s: b"" for s in sockets}, {}
    next_trickle = time.monotonic()
    while len(closed) < len(sockets):
        open_ = len(sockets) - len(closed)
        assert time.monotonic() - started < within, f"{open_} of {len(sockets)} connections still open after {within} s"
        if time.monotonic() >= next_trickle:
            for sock in trickle:
                if sock not in closed:
                    with contextlib.suppress(OSError):  # closed by the server meanwhile
                        sock.send(b"X")
            next_trickle += 0.2
        for key, _ in selector.select(timeout=0.05):
            sock = key.fileobj
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            except BlockingIOError:
                continue
            received[sock] += chunk
            if not chunk:
                closed[sock] = (time.monotonic() - started, received[sock])
                selector.unregister(sock)
    selector.close()
    return closed


def wait_for_event(contract_id: int, timeout: float = 60) -> None:
    query = {"filter": {"resource": {"id": [f"spotdraft.contract.{contract_id}"]}}}
    deadline = time.monotonic() + timeout
    while not rest({"PREFECT_API_URL": PREFECT_API_URL.value()}, "POST", "/events/filter", query)["events"]:
        assert time.monotonic() < deadline, f"no event for contract {contract_id}"
        time.sleep(0.3)


def test_connections_that_never_send_a_whole_head_are_closed_within_the_head_timeout(start):
    """200 connections (silent, half a head, a byte every 0.2 s, half a second head after a first request)
    against `--head-timeout 2`: each is closed by the server within the timeout and a margin, the
    descriptors they held are released, and a delivery made while they are open is answered and
    becomes an event."""
    receiver = start("--head-timeout", "2", "--limit-concurrency", "1000")
    before = receiver.descriptors()
    opened = time.monotonic()
    silent = connect(receiver.port, 100)
    half = connect(receiver.port, 90, HALF_HEAD)
    trickling = connect(receiver.port, 9, b"P")
    # A kept-alive connection: one request answered, then half of the next head (the deadline starts again).
    kept = connect(receiver.port, 1, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + HALF_HEAD)
    held = before
    while held < before + 195 and time.monotonic() - opened < 1.5:  # until the server has accepted them all
        time.sleep(0.05)
        held = max(held, receiver.descriptors())
    assert held >= before + 195, (before, held)  # the receiver's own few may come and go

    answer = receiver.deliver(contract_id=5_550_001)
    assert answer.status_code == 202, answer.text
    closed = closed_by_server(silent + half + trickling + kept, within=2 + 4, trickle=trickling, since=opened)
    first, slowest = (f(seconds for seconds, _ in closed.values()) for f in (min, max))
    assert first >= 1.9  # not before the head timeout: the delivery above went through meanwhile
    for sock in silent:
        assert closed[sock][1] == b""  # nothing was asked: closed without an answer, like an idle keep-alive
    for sock in half:
        assert closed[sock][1].startswith(b"HTTP/1.1 408 "), closed[sock][1]
    # The trickling ones get the same 408, unless a byte they sent after it made the server's kernel reset them.
    assert closed[kept[0]][1].startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 408 " in closed[kept[0]][1]
    wait_for_event(5_550_001)
    time.sleep(0.2)
    after = receiver.descriptors()
    print(f"\nreceiver descriptors: {before} before, {held} with 200 idle connections, {after} after; "
          f"closed by the server {first:.2f} to {slowest:.2f} s after they were opened (head timeout 2 s)")
    assert after <= before + 2, (before, held, after)
    assert "whose request head had not arrived within 2 s" in receiver.output()
    for sock in silent + half + trickling + kept:
        sock.close()


def test_the_connection_cap_keeps_descriptors_bounded_and_lets_a_delivery_through(start):
    """`--limit-concurrency 20` and a long head timeout: 200 idle connections never hold more than about 20
    descriptors (each new one closes the one waiting longest for a head), a delivery still gets
    through, and when every connection is busy with a request a new one is answered 503."""
    receiver = start("--head-timeout", "60", "--limit-concurrency", "20")
    before = receiver.descriptors()
    idle = connect(receiver.port, 200)
    held = before
    for _ in range(20):  # while the server accepts them: never more than 20 at once
        held = max(held, receiver.descriptors())
        time.sleep(0.05)
    # 20 connections, plus the one just accepted while the oldest is being closed for it, plus a few of the
    # receiver's own (its Prefect client's): far below the 200 a receiver without the cap holds.
    assert held <= before + 25, (before, held)
    # The oldest ones were closed to make room, long before the head timeout.
    closed = closed_by_server(idle[:150], within=5)
    assert all(data == b"" for _, data in closed.values())

    answer = receiver.deliver(contract_id=5_550_002)
    assert answer.status_code == 202, answer.text
    wait_for_event(5_550_002)

    # Every connection busy: a head in and half a body (the app waits up to 10 s for the rest).
    signed = b"{" + b" " * 50
    busy_head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"
                 f"X-SD-WEBHOOK-CONTENT-HASH: {'0' * 128}\r\n\r\n").encode()
    busy = connect(receiver.port, 20, busy_head + signed)
    # The receiver has taken them all once every idle connection left is closed to make room for them; then a moment
    # to read their heads. Waited for, not assumed within a fixed 0.3 s: on a loaded machine a head still unread
    # would be the one closed for the next connection, which would then wait for a head instead of getting 503.
    closed_by_server(idle, within=30)
    time.sleep(0.3)
    [(_, refused)] = closed_by_server(connect(receiver.port, 1), within=5).values()
    assert refused.startswith(b"HTTP/1.1 503 "), refused
    print(f"\nreceiver descriptors with --limit-concurrency 20: {before} before, {held} with 200 idle connections")
    for sock in idle + busy:
        sock.close()
