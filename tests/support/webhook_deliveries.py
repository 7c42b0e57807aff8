"""Deliveries to the webhook receiver as SpotDraft sends them, for the tests that run `python -m webhooks`: the
canary key, SpotDraft's own sample deliveries (for contracts no other test uses), signed POSTs (every
signature sent, and every event id answered 202, kept for the check that none leaks and each is one event),
raw requests on a socket, the receiver as a restartable child process, and the events a contract's deliveries
became on the Prefect server."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.paths import ROOT, spotdraft_spec
from tests.support.prefect_rest import read_events
from tools.prefect_server import free_port, stop_process_group

KEY = b"canaryWebhookKey-6c1f0e93ab5d"  # unique to these tests: any hit can only come from them
KEY_TEXT = base64.b64encode(KEY).decode()
KEY_BLOCK = "spotdraft-webhook-key"
CAP = 256 * 1024  # the receiver's default body limit
SIGNATURE_HEADER = "X-SD-WEBHOOK-CONTENT-HASH"

SENT_SIGNATURES: list[str] = []
ACCEPTED: list[str] = []  # event ids answered 202


def sign(body: bytes, key: bytes = KEY) -> str:
    signature = hmac.new(key, body, hashlib.sha512).hexdigest()
    SENT_SIGNATURES.append(signature)
    return signature


_contract_ids = itertools.count(910_000)


def next_contract_id() -> int:
    """A contract id no other delivery of this test process uses."""
    return next(_contract_ids)


def delivery(activity: str = "CONTRACT_EXECUTED", **fields) -> tuple[dict, bytes]:
    """SpotDraft's own sample delivery for `activity` (ContractActivityDomainModel's examples, else its
    CONTRACT_EXECUTED one) for a contract no other test uses, and its bytes as SpotDraft sends them."""
    examples = spotdraft_spec()["components"]["schemas"]["ContractActivityDomainModel"]["examples"]
    body = {**copy.deepcopy(examples.get(activity, examples["CONTRACT_EXECUTED"])),
            "contract_id": next_contract_id(), "activity": activity, **fields}
    return body, json.dumps(body).encode()


class Receiver:
    """`python -m webhooks` as a child process on a fixed port, restartable; its output kept in files. Its database
    is `database_url` (a SQLite file beside the logs by default); it syncs contracts only if `sync`."""

    def __init__(self, env: dict, logs: Path, port: int | None = None, *, database_url: str | None = None,
                 sync: bool = False) -> None:
        self.env, self.logs, self.port = env, logs, port or free_port()
        self.database_url = database_url or f"sqlite:///{logs / 'receiver.db'}"
        self.options = ["--database-url", self.database_url, *([] if sync else ["--no-sync"])]
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, *args: str, env: dict | None = None, wait: bool = True) -> Receiver:
        n = len(list(self.logs.glob("receiver-*.log")))
        with open(self.logs / f"receiver-{n}.log", "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "webhooks", "--port", str(self.port), *self.options, *args], cwd=ROOT,
                env=env or self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the receiver exited with {self.process.returncode}: {self.output()}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        pytest.fail(f"the receiver did not answer within {timeout} s: {self.output()}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("receiver-*.log")))

    def post(self, body: bytes, signature: str | bytes | None = None,
             client: httpx.Client | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json", **({SIGNATURE_HEADER: signature} if signature else {})}
        answer = (client or httpx).post(f"{self.url}/spotdraft/webhooks", content=body, headers=headers, timeout=30)
        if answer.status_code == 202:
            ACCEPTED.append(answer.json()["event_id"])
        return answer

    def deliver(self, body: bytes) -> httpx.Response:
        return self.post(body, sign(body))


def raw_exchange(port: int, head: bytes, parts: list[bytes] = (), *, close_write: bool = False) -> bytes:
    """Send a request's head and then `parts` on a plain socket, and read what comes back until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head)
        for part in parts:
            sock.sendall(part)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def head(signature: str | None, **headers: str) -> bytes:
    lines = ["POST /spotdraft/webhooks HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             *([f"{SIGNATURE_HEADER}: {signature}"] if signature else []),
             *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def contract_events(prefect: dict, contract_id: int) -> list[dict]:
    return read_events(prefect, resource={"id": [f"spotdraft.contract.{contract_id}"]})


def wait_for_events(prefect: dict, contract_id: int, timeout: float = 60) -> list[dict]:
    """The contract's events, once there is at least one (the server stores events in batches; on a loaded machine
    the relay and the server's persister take seconds more)."""
    deadline = time.monotonic() + timeout
    while not (found := contract_events(prefect, contract_id)):
        if time.monotonic() > deadline:
            pytest.fail(f"no event for contract {contract_id} after {timeout} s")
        time.sleep(0.3)
    return found
