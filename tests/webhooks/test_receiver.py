"""The webhook receiver in-process: signatures in any header spelling, deliveries that are not ones,
secrets and keys kept out of events, nesting and header limits, event ids the triggered sync can take,
and one event for one delivery given to two receivers.

The receiver runs in-process under uvicorn on a loopback port, storing into a real SQLite file; the attacks on
its input use a recording sink (what reaches Prefect is the question, not Prefect itself) and read its outbox
(a refused delivery writes nothing, so nothing can ever be sent for it), the ones on duplicates use the real
Prefect API of the `prefect_api` harness.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from flows.sync_contract import ContractId, contract_key
from store import engine_for
from store.sync_tickets import counters
from tests.support.serving import serving as serving_port
from tests.support.sync_contract_runs import wait
from tests.support.webhook_sinks import RecordingSink, outbox_rows
from tools.prefect_server import free_port
from webhooks.delivery import event_id_for
from webhooks.receiver import create_app
from webhooks.signature import SIGNATURE_HEADER

KEY = b"receiver-webhook-key-5b7e0c1d9a"
PATH = "/spotdraft/webhooks"


def sign(body: bytes) -> str:
    return hmac.new(KEY, body, hashlib.sha512).hexdigest()


def body_of(**fields) -> bytes:
    return json.dumps({"contract_id": 4242, "activity": "CONTRACT_EXECUTED", **fields}).encode()


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """`app` under uvicorn in a thread (in this context's Prefect settings); yields its webhook URL."""
    with serving_port(app, log_level="critical") as port:
        yield f"http://127.0.0.1:{port}{PATH}"


def post(url: str, body: bytes, signature: str | None = None, **headers: str) -> httpx.Response:
    return httpx.post(url, content=body, timeout=30,
                      headers={SIGNATURE_HEADER: sign(body) if signature is None else signature, **headers})


def raw_status(url: str, body: bytes, signature_line: str) -> int:
    """POST `body` with the signature header written exactly as given (httpx would refuse odd spacing)."""
    port = int(url.split(":")[2].split("/")[0])
    head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            f"{signature_line}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split()[1])


@pytest.fixture(scope="module")
def receiver(tmp_path_factory) -> Iterator[tuple[str, RecordingSink]]:
    sink = RecordingSink()
    database_url = f"sqlite:///{tmp_path_factory.mktemp('receiver') / 'receiver.db'}"
    with serving(create_app(KEY, database_url=database_url, sink=sink)) as url:
        sink.database_url = database_url
        yield url, sink


def stored(sink: RecordingSink) -> int:
    """How many deliveries the receiver has stored (each one's event is sent from there, and only from there)."""
    return len(outbox_rows(sink.database_url))


# ------------------------------------------------------------------------------ receiver: its input


def test_the_same_body_signed_in_any_header_spelling_is_one_event(receiver):
    url, sink = receiver
    raw = body_of(contract_id=5001)
    before, rows = len(sink.sent), stored(sink)
    first = post(url, raw)
    variants = [post(url, raw, sign(raw).upper()).status_code,
                httpx.post(url, content=raw, headers=[("x-sd-webhook-content-hash", sign(raw))]).status_code,
                raw_status(url, raw, f"{SIGNATURE_HEADER}:   {sign(raw)} \t"),
                raw_status(url, raw, f"x-Sd-Webhook-Content-Hash:{sign(raw).upper()}")]
    assert first.status_code == 202 and variants == [200] * 4
    assert stored(sink) == rows + 1
    sink.wait_for(before + 1)
    time.sleep(0.3)
    assert [e["id"] for e in sink.sent[before:]] == [first.json()["event_id"]]


@pytest.mark.parametrize("fields", [
    {"contract_id": -1}, {"contract_id": None}, {"contract_id": 1.0}, {"contract_id": False},
    {"contract_id": " 1"}, {"contract_id": "1 "}, {"contract_id": "1/../2"}, {"contract_id": {"id": 1}},
    {"contract_id": [1]}, {"contract_id": "x" * 65}, {"activity": "CONTRACT.EXECUTED"}, {"activity": "1X"},
    {"activity": "CONTRACT_EXECUTED\n"}, {"activity": "ÉXECUTED"}, {"activity": "A" * 101}, {"activity": 7},
], ids=repr)
def test_a_signed_delivery_that_is_not_one_is_400_and_no_event(receiver, fields):
    url, sink = receiver
    before = stored(sink)
    answer = post(url, body_of(**fields))
    assert answer.status_code == 400, answer.text
    assert stored(sink) == before


def test_bytes_and_headers_that_are_not_a_delivery_are_refused(receiver):
    url, sink = receiver
    before = stored(sink)
    for raw in (b"\xff\xfe\x00{", b"\x80" * 100, b'{"contract_id": 1, "activity": "X", "t": "\xc3\x28"}'):
        assert post(url, raw).status_code == 400
    unsigned = post(url, body_of(), signature="", **{"X-Padding": "b"})
    assert unsigned.status_code == 401 and KEY.decode() not in unsigned.text
    assert stored(sink) == before


def test_secret_looking_fields_of_a_delivery_never_reach_the_event(receiver):
    url, sink = receiver
    key_text = base64.b64encode(KEY).decode()
    from webhooks.signature import decode_key

    decode_key(key_text, "the test")  # as the receiver's start does: the key is registered with the scrubbers
    before = len(sink.sent)
    raw = body_of(contract_id=5002, contract_title=f"about {key_text}", client_secret="cs-123456789",
                  password="pw-123456789", Authorization="Bearer tok-123456789",
                  counterparties=[{"counterparty_id": 1, "organization_name": key_text, "token": "tk-123456789"}])
    assert post(url, raw).status_code == 202
    [event] = sink.wait_for(before + 1)[before:]
    shown = json.dumps(event) + json.dumps(outbox_rows(sink.database_url), default=str)  # stored as sent
    for secret in (key_text, "cs-123456789", "pw-123456789", "tok-123456789", "tk-123456789"):
        assert secret not in shown


@pytest.mark.usefixtures("prefect_api")
def test_the_key_block_shows_no_key():
    from prefect.blocks.system import Secret

    key_text = base64.b64encode(KEY).decode()
    Secret(value=key_text).save("receiver-key-check", overwrite=True)
    loaded = Secret.load("receiver-key-check")
    assert loaded.get() == key_text
    assert key_text not in repr(loaded) + str(loaded) + loaded.model_dump_json() + str(loaded.model_dump())


# ------------------------------------------------------------------------------ receiver: its limits


@pytest.mark.parametrize("depth", [300, 600, 2000])
def test_a_deeply_nested_delivery_is_400_not_a_crash(receiver, depth):
    url, sink = receiver
    before = stored(sink)
    raw = b'{"contract_id": 4243, "activity": "CONTRACT_EXECUTED", "n": ' + b"[" * depth + b"]" * depth + b"}"
    assert post(url, raw).status_code == 400
    assert stored(sink) == before


@pytest.mark.parametrize("contract_id", [10**30, "abc", "T-1x"], ids=repr)
def test_every_event_names_a_contract_the_triggered_sync_can_take(receiver, contract_id):
    from pydantic import TypeAdapter

    url, sink = receiver
    answer = post(url, body_of(contract_id=contract_id))
    if answer.status_code == 400:
        return
    sink.wait_for(1)
    wait(lambda: any(e["id"] == answer.json()["event_id"] for e in sink.sent))
    [event] = [e for e in sink.sent if e["id"] == answer.json()["event_id"]]
    label = event["resource"]["spotdraft.contract.id"]  # what the deployment's trigger passes as contract_id
    TypeAdapter(ContractId).validate_python(label)
    contract_key(label)


@contextlib.contextmanager
def as_operators_run_it(monkeypatch, tmp_path) -> Iterator[str]:
    """The app and uvicorn options `python -m webhooks` uses (its main(), uvicorn.run intercepted), served
    on a free port; the Prefect API it names is down, which only matters past the signature check."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from webhooks.__main__ import main

    options: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **given: options.update(app=app, **given))
    monkeypatch.setenv("SPOTDRAFT_WEBHOOK_KEY", base64.b64encode(KEY).decode())
    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        assert main(["--port", "1", "--log-level", "error", "--no-sync",
                     "--database-url", f"sqlite:///{tmp_path / 'receiver.db'}"]) == 0
        app = options.pop("app")
        options.update(port=free_port(), log_level="critical")
        server = uvicorn.Server(uvicorn.Config(app, **options))
        thread = threading.Thread(target=contextvars.copy_context().run, args=(server.run,), daemon=True)
        thread.start()
        try:
            wait(lambda: server.started or not thread.is_alive())
            yield f"http://127.0.0.1:{options['port']}{PATH}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def test_an_oversized_header_is_refused_before_it_is_read_whole(monkeypatch, tmp_path):
    with as_operators_run_it(monkeypatch, tmp_path) as url:
        answer = httpx.post(url, content=body_of(), headers={"X-Padding": "a" * (8 << 20)}, timeout=60)
    assert answer.status_code in (400, 413, 431)


# --------------------------------------------------------------------------- receiver + Prefect API


def _stored(event_id: str) -> int:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventIDFilter

    async def count() -> int:
        async with get_client() as client:
            page = await client.read_events(EventFilter(id=EventIDFilter(id=[uuid.UUID(event_id)])), limit=5)
            return len(page.events)

    return asyncio.run(count())


@pytest.mark.usefixtures("prefect_api")
def test_two_receivers_given_one_delivery_store_one_event(sandbox, sqlite_url, tmp_path):
    """Six copies of one delivery at once, split between two receivers on one database (behind one load
    balancer); a sandbox delivery replayed by SpotDraft's side to the other receiver; and a third receiver
    with a database of its own given both again: one stored delivery, one ticket and one event each."""
    raw = body_of(contract_id=6001, activity="CONTRACT_SIGNED", nonce=str(uuid.uuid4()))
    sandbox.set_webhook_key(base64.b64encode(KEY).decode())
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    with serving(create_app(KEY, database_url=sqlite_url)) as one, serving(create_app(KEY, database_url=sqlite_url)) \
            as two, serving(create_app(KEY, database_url=elsewhere)) as three:
        results: list[httpx.Response] = []
        threads = [threading.Thread(target=lambda u=u: results.append(post(u, raw))) for u in (one, two) * 3]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        [valid] = sandbox.send_webhook("valid", one, contract=1002, activity="CONTRACT_EXECUTED")
        [replayed] = sandbox.send_webhook("replayed", two, delivery_id=valid.delivery_id)
        assert post(three, raw).status_code == 202  # its own database: stored, and sent under the same id
        [again] = sandbox.send_webhook("replayed", three, delivery_id=valid.delivery_id)
        time.sleep(2)  # the third receiver's relay sends (or finds the events held) before it stops
        # Waited for while the receivers still run: a relay stopped before it sent (seconds late on a loaded
        # machine) would leave its event in the outbox for good.
        event_ids = {r.json()["event_id"] for r in results if r.status_code in (200, 202)}
        replay_id = str(event_id_for(valid.body_sha256))
        deadline = time.monotonic() + 60
        while not (all(_stored(e) for e in event_ids) and _stored(replay_id)):  # the server writes events in batches
            assert time.monotonic() < deadline, "the events were never stored"
            time.sleep(0.5)
    assert (valid.status, replayed.status, again.status) == (202, 200, 202)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] * 5 + [202], codes
    engine = engine_for(sqlite_url)
    assert counters(engine, "6001") == (1, 0) and counters(engine, "1002") == (1, 0)  # one ticket each
    [event_id] = {r.json()["event_id"] for r in results}
    assert valid.body_sha256 == replayed.body_sha256
    time.sleep(1)
    assert (_stored(event_id), _stored(replay_id)) == (1, 1)


# ------------------------------------------------------------------------------------ sync_contract

