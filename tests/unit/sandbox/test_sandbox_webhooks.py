"""The sandbox sends webhook deliveries as SpotDraft would.

A tiny HTTP listener on loopback (http.server in a thread) records what arrives. Subscriptions are
made through the real API path, contracts change through the API or the sandbox's admin endpoints,
and each delivery is checked the way a receiver must check it: the signature recomputed from the
raw bytes with the key the hmac_key operation answers, the body against the spec's schema.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from client import SpotDraftClient
from sandbox import Sandbox, SandboxProcess
from tests.support.paths import SPEC_PATH, require_spec
from tools.synthesize_answers import load_spec, response_validator

V21 = "/api/v2.1/public"
HOOKS = f"{V21}/webhooks/"
HMAC_KEY = f"{V21}/webhooks/hmac_key/"
SIGNATURE = "x-sd-webhook-content-hash"
CANARY_KEY = base64.b64encode(b"canary-webhook-key-" + bytes(range(45))).decode()
LIFECYCLE = ["CONTRACT_CREATED", "CONTRACT_SENT_TO_COUNTERPARTY", "CONTRACT_SIGNATURE_REQUESTED",
             "CONTRACT_SIGNED", "CONTRACT_EXECUTED", "CONTRACT_PROCESS_METRIC_UPDATED"]  # fmt: skip
FAST = {"attempts": 4, "backoff_s": 0.1, "timeout_s": 2.0}


@pytest.fixture(scope="module")
def activity_schema():
    require_spec()
    spec = load_spec(SPEC_PATH)
    return response_validator(spec, {"$ref": "#/components/schemas/ContractActivityDomainModel"})


# ---------------------------------------------------------------------------- the listener


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

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), (
                f"{len(self.received)} of {count} deliveries arrived"
            )
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def listen():
    made: list[Listener] = []

    def make(statuses: tuple[int, ...] = (), gate: threading.Event | None = None) -> Listener:
        made.append(Listener(statuses, gate))
        return made[-1]

    yield make
    for listener in made:
        if listener.gate is not None:
            listener.gate.set()
        listener.close()


@pytest.fixture
def sb():
    with Sandbox(contracts=10, seed=3, webhook_key=CANARY_KEY) as sandbox:
        sandbox.set_webhook_delivery(**FAST)
        yield sandbox


def _api(sandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.base_url, headers=sandbox.headers, timeout=10)


def _subscribe(sandbox, url: str, activities: list[str], **extra) -> dict:
    with _api(sandbox) as api:
        answer = api.post(HOOKS, json={"title": "test hook", "url": url, "only_for_activities": activities, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _signed(key_b64: str, body: bytes) -> str:
    return hmac.new(base64.b64decode(key_b64), body, hashlib.sha512).hexdigest()


def _lane_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sandbox-webhook")]


def _create_body(external_id: str) -> dict:
    return {
        "contract_template_id": 100,
        "contract_data": {},
        "external_metadata": {"id": external_id, "source": "crm"},
        "counter_party_details": [{"is_individual": False, "organization_name": "Acme Widgets Ltd.",
                                   "poc_details": {"first_name": "Ada", "last_name": "Lane",
                                                   "email": "ada@acme.example"}}],
    }  # fmt: skip


# ---------------------------------------------------------------------------- deliveries


def test_a_contract_created_through_the_api_is_delivered_signed_with_the_workspace_key(sb, listen, activity_schema):
    listener = listen()
    with SpotDraftClient(sb.client_id, sb.client_secret, base_url=sb.base_url) as client:
        hook = client.call("create_webhook", body={
            "title": "contracts", "url": listener.url(), "only_for_activities": ["CONTRACT_CREATED"],
            "custom_headers": {"X-Receiver-Token": "receiver-token-1"}})  # fmt: skip
        key = client.call("get_webhook_hmac_key")["hmac_key"]
        assert key == client.call("get_webhook_hmac_key")["hmac_key"] == CANARY_KEY  # one stable key
        created = client.call("create_contract", body=_create_body("crm-hook-1"))
    assert hook["status"] == "ACTIVE" and hook["only_for_activities"] == ["CONTRACT_CREATED"]

    [delivery] = listener.wait_for(1)
    assert delivery.headers[SIGNATURE] == _signed(key, delivery.body)
    assert delivery.headers["x-receiver-token"] == "receiver-token-1"  # the subscription's custom header
    assert delivery.headers["content-type"] == "application/json"
    body = delivery.json()
    errors = [e.message for e in activity_schema.iter_errors(body)]
    assert not errors, errors
    contract = next(c for c in sb.snapshot() if c["id"] == created["contract_id"])
    assert body["activity"] == "CONTRACT_CREATED" and body["contract_id"] == contract["id"]
    assert body["contract_status"] == "DRAFT" and body["contract_title"] == contract["contract_name"]
    assert body["external_metadata"] == {"id": "crm-hook-1", "source": "crm"}
    assert body["activity_data"]["timestamp"] == contract["last_updated_on"] == body["created_at"]
    assert body["counterparties"] == [{"type": "Organization", "organization_name": "Acme Widgets Ltd.",
                                       "poc_name": "Ada Lane", "poc_email": "ada@acme.example"}]  # fmt: skip
    assert sb.wait_for_webhooks(5)  # the attempt is logged once the listener has answered
    [attempt] = sb.webhook_deliveries()
    assert (attempt.url, attempt.activity, attempt.status, attempt.attempt, attempt.webhook_id) == (
        listener.url(), "CONTRACT_CREATED", 200, 1, hook["id"])
    assert attempt.body_sha256 == hashlib.sha256(delivery.body).hexdigest()


def test_the_lifecycle_arrives_in_order_and_each_subscription_gets_only_its_activities(sb, listen, activity_schema):
    held = threading.Event()
    everything, executed_only = listen(gate=held), listen()  # `everything` answers nothing until released
    _subscribe(sb, everything.url(), LIFECYCLE)
    _subscribe(sb, executed_only.url("/executed"), ["CONTRACT_EXECUTED"])
    [contract] = httpx.post(f"{sb.base_url}/_sandbox/contracts", json={"count": 1}).json()["contracts"]
    cid = contract["id"]
    with _api(sb) as api:  # each change returns while the first delivery is still unanswered
        assert api.post(f"{V21}/contracts/{contract['composite_id']}/send_to_counterparties", json={}).is_success
    for step in ("request_signature", "sign", "execute", "update_metrics"):
        answer = httpx.post(f"{sb.base_url}/_sandbox/contracts/{cid}/{step}", timeout=5)
        assert answer.status_code == 200, answer.text
    [executed] = executed_only.wait_for(1)  # another URL's lane does not wait for the held one...
    assert len(everything.wait_for(1)) == 1  # ...while the held URL gets nothing more until it answers
    held.set()

    arrived = everything.wait_for(6)
    bodies = [r.json() for r in arrived]
    assert [b["activity"] for b in bodies] == LIFECYCLE
    assert [b["contract_status"] for b in bodies] == ["DRAFT", "REDLINING", "SIGN", "SIGN", "EXECUTED", "EXECUTED"]
    stamps = [b["activity_data"]["timestamp"] for b in bodies]
    assert stamps == sorted(stamps) and len(set(stamps)) == 6
    assert stamps[-1] == sb.state.get(cid).snapshot()["last_updated_on"]
    performers = [b["activity_data"]["performed_by"] for b in bodies]
    assert performers[1]["email"] == "admin@sandbox.example"  # the API caller sent it
    assert performers[3]["email"] == bodies[3]["counterparties"][0]["poc_email"]  # the counterparty signed
    assert performers[4] == performers[5] == {"name": "SYSTEM"}
    for body in bodies:
        assert not list(activity_schema.iter_errors(body))

    assert executed.path == "/executed" and executed.json()["activity"] == "CONTRACT_EXECUTED"
    assert sb.wait_for_webhooks(5)
    assert len(executed_only.received) == 1 and len(everything.received) == 6

    refused = httpx.post(f"{sb.base_url}/_sandbox/contracts/{cid}/sign")  # EXECUTED cannot be signed again
    assert refused.status_code == 409 and "EXECUTED" in refused.json()["detail"]
    assert httpx.post(f"{sb.base_url}/_sandbox/contracts/{cid}/dance").status_code == 400


def test_unregistering_stops_deliveries_and_their_retries(sb, listen):
    listener, failing = listen(), listen(statuses=(503,) * 10)
    hook = _subscribe(sb, listener.url(), ["CONTRACT_CREATED"])
    sb.add_contracts(1)
    listener.wait_for(1)
    with _api(sb) as api:
        assert api.delete(f"{HOOKS[:-1]}/{hook['id']}").status_code == 204
        assert api.delete(f"{HOOKS[:-1]}/{hook['id']}").status_code == 404
    assert sb.webhooks == []
    sb.add_contracts(2)
    assert sb.wait_for_webhooks(5)
    assert len(listener.received) == 1 and len(sb.webhook_deliveries(url=listener.url())) == 1

    sb.set_webhook_delivery(attempts=10, backoff_s=0.3)
    doomed = _subscribe(sb, failing.url(), ["CONTRACT_CREATED"])
    sb.add_contracts(1)
    failing.wait_for(1)
    with _api(sb) as api:
        api.delete(f"{HOOKS[:-1]}/{doomed['id']}")
    assert sb.wait_for_webhooks(5)
    assert len(failing.received) <= 2  # the retries stopped with the subscription, not after 10 attempts


def test_a_failed_delivery_is_retried_with_backoff_and_later_ones_wait_their_turn(sb, listen):
    listener = listen(statuses=(500, 502))
    _subscribe(sb, listener.url(), ["CONTRACT_CREATED", "CONTRACT_SENT_TO_COUNTERPARTY"])
    [contract] = sb.add_contracts(1)
    sb.advance(contract.id, "send")
    arrived = listener.wait_for(4)
    assert [r.json()["activity"] for r in arrived] == ["CONTRACT_CREATED"] * 3 + ["CONTRACT_SENT_TO_COUNTERPARTY"]
    assert arrived[0].body == arrived[1].body == arrived[2].body  # a retry sends the same bytes
    assert arrived[0].headers[SIGNATURE] == arrived[2].headers[SIGNATURE]
    gaps = [b.at - a.at for a, b in itertools.pairwise(arrived[:3])]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19  # 0.1 s, then doubled
    assert sb.wait_for_webhooks(5)
    attempts = sb.webhook_deliveries(activity="CONTRACT_CREATED")
    assert [(a.attempt, a.status) for a in attempts] == [(1, 500), (2, 502), (3, 200)]

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    nobody = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"  # bound, never listening: refused
    sb.set_webhook_delivery(attempts=3, backoff_s=0.01)
    _subscribe(sb, nobody, ["CONTRACT_EXECUTED"])
    sb.advance(contract.id, "request_signature")
    sb.advance(contract.id, "execute")
    assert sb.wait_for_webhooks(5)
    down = sb.webhook_deliveries(url=nobody)
    closed.close()
    assert [(a.attempt, a.status, a.error) for a in down] == [(n, None, "ConnectError") for n in (1, 2, 3)]


def test_registration_is_validated_as_the_spec_describes(sb):
    good = {"title": "t", "url": "https://hooks.example.test/spotdraft", "only_for_activities": ["CONTRACT_SIGNED"]}
    with _api(sb) as api:
        assert api.post(HOOKS, json=good).status_code == 201
        assert api.post(HOOKS, json={**good, "url": "http://localhost:9/x"}).status_code == 201  # loopback allowance
        for change, field in (({"title": ""}, "title"), ({"only_for_activities": []}, "only_for_activities"),
                              ({"only_for_activities": ["CONTRACT_DANCED"]}, "only_for_activities"),
                              ({"url": "http://hooks.example.test/x"}, "url"), ({"url": "ftp://x/y"}, "url"),
                              ({"custom_headers": {"Authorization": "Bearer x"}}, "custom_headers"),
                              ({"custom_headers": {" X-SD-Thing ": "v"}}, "custom_headers"),
                              ({"custom_headers": {"X-Ok": 1}}, "custom_headers")):  # fmt: skip
            refused = api.post(HOOKS, json={**good, **change})
            assert refused.status_code == 400, change
            answer = refused.json()
            assert answer["status_code"] == 400 and field in answer["fields"] and answer["message"]
        missing = api.post(HOOKS, json={"title": "t"}).json()["fields"]
        assert set(missing) == {"only_for_activities", "url"}
        assert "Non-HTTPS" in api.post(HOOKS, json={**good, "url": "http://10.0.0.1/x"}).json()["detail"]
        assert api.delete(f"{HOOKS}abc").status_code == 404
    assert httpx.post(sb.base_url + HOOKS, json=good).status_code == 401
    assert httpx.get(sb.base_url + HMAC_KEY).status_code == 401
    assert [h["id"] for h in sb.webhooks] == [1, 2]


# ---------------------------------------------------------------------------- misbehaving deliveries


def test_each_misbehaving_kind_arrives_as_asked(sb, listen):
    listener = listen()
    url = listener.url()
    [valid] = sb.send_webhook("valid", url, contract=1002, activity="CONTRACT_EXECUTED")
    [forged] = sb.send_webhook("forged", url, contract=1002)
    [unsigned] = sb.send_webhook("unsigned", url)
    [truncated] = sb.send_webhook("truncated", url, contract=1002, activity="CONTRACT_EXECUTED")
    [replayed] = sb.send_webhook("replayed", url, delivery_id=valid.delivery_id)
    [oversized] = sb.send_webhook("oversized", url, size=300_000)
    assert all(a.status == 200 and a.attempt == 1 for a in (valid, forged, unsigned, truncated, replayed, oversized))
    r_valid, r_forged, r_unsigned, r_truncated, r_replayed, r_oversized = listener.wait_for(6)

    assert r_valid.headers[SIGNATURE] == _signed(CANARY_KEY, r_valid.body)
    assert r_valid.json()["activity"] == "CONTRACT_EXECUTED" and r_valid.json()["contract_id"] == 1002
    assert len(r_forged.headers[SIGNATURE]) == 128 and r_forged.headers[SIGNATURE] != _signed(CANARY_KEY, r_forged.body)
    json.loads(r_forged.body)  # a well-formed body: only the signature gives it away
    assert SIGNATURE not in r_unsigned.headers
    assert r_truncated.body == r_valid.body[: len(r_valid.body) // 2]  # cut after signing:
    assert r_truncated.headers[SIGNATURE] == r_valid.headers[SIGNATURE]  # the header is the whole body's
    assert (r_replayed.body, r_replayed.headers[SIGNATURE]) == (r_valid.body, r_valid.headers[SIGNATURE])
    assert len(r_oversized.body) == 300_000 and r_oversized.headers[SIGNATURE] == _signed(CANARY_KEY, r_oversized.body)
    assert r_oversized.json()["activity"] == "CONTRACT_CREATED"
    assert [a.kind for a in sb.webhook_deliveries()] == ["valid", "forged", "unsigned", "truncated", "replayed",
                                                         "oversized"]  # fmt: skip

    admin = f"{sb.base_url}/_sandbox/webhooks/send"
    answer = httpx.post(admin, json={"kind": "truncated", "url": url, "keep": 5}).json()
    assert answer["attempts"][0]["size"] == 5 and listener.wait_for(7)[-1].body == r_valid.body[:5]
    assert httpx.post(admin, json={"kind": "unsigned", "url": url, "wait": False}).status_code == 202
    assert httpx.post(admin, json={"kind": "teleported", "url": url}).status_code == 400
    assert httpx.post(admin, json={"kind": "oversized", "url": url}).status_code == 400  # size is required
    assert httpx.post(admin, json={"kind": "oversized", "url": url, "size": 10}).status_code == 400
    assert httpx.post(admin, json={"kind": "replayed", "url": url, "delivery_id": 999}).status_code == 404
    assert httpx.post(admin, json={"kind": "valid", "webhook_id": 42}).status_code == 404


def test_a_replay_of_a_subscription_delivery_keeps_its_custom_headers(sb, listen):
    listener = listen()
    hook = _subscribe(sb, listener.url(), ["CONTRACT_CREATED"], custom_headers={"X-Receiver-Token": "t-1"})
    sb.add_contracts(1)
    [first] = listener.wait_for(1)
    [again] = sb.send_webhook("replayed", webhook_id=hook["id"])  # the latest delivery to that URL
    second = listener.wait_for(2)[1]
    assert again.kind == "replayed" and second.body == first.body
    assert second.headers[SIGNATURE] == first.headers[SIGNATURE] and second.headers["x-receiver-token"] == "t-1"


# ---------------------------------------------------------------------------- key, threads, process


def test_the_key_is_one_per_workspace_replaceable_and_never_shown(sb, listen):
    with Sandbox(contracts=1, seed=3) as other, _api(other) as api:
        random_key = api.get(HMAC_KEY).json()["hmac_key"]
    assert random_key != CANARY_KEY and len(base64.b64decode(random_key)) == 64
    listener = listen()
    _subscribe(sb, listener.url(), ["CONTRACT_CREATED"])
    new_key = base64.b64encode(os.urandom(32)).decode()
    answer = httpx.put(f"{sb.base_url}/_sandbox/webhooks/key", json={"hmac_key": new_key})
    assert answer.status_code == 200 and new_key not in answer.text
    assert httpx.put(f"{sb.base_url}/_sandbox/webhooks/key", json={"hmac_key": "not base64!"}).status_code == 400
    with _api(sb) as api:
        assert api.get(HMAC_KEY).json()["hmac_key"] == new_key
    sb.add_contracts(1)
    [delivery] = listener.wait_for(1)
    assert delivery.headers[SIGNATURE] == _signed(new_key, delivery.body) != _signed(CANARY_KEY, delivery.body)
    sb.set_webhook_key(CANARY_KEY)
    shown = [httpx.get(f"{sb.base_url}/_sandbox/{path}").text
             for path in ("webhooks", "webhooks/deliveries", "webhooks/settings", "state", "requests")]  # fmt: skip
    shown += [repr(sb), repr(sb.app.webhooks), repr(sb.app.config), json.dumps(sb.webhooks)]
    for text in shown:
        assert CANARY_KEY not in text and new_key not in text


def test_no_subscription_means_no_thread_and_stop_leaves_none_behind(listen):
    before = set(_lane_threads())
    with Sandbox(contracts=5, seed=1) as quiet:
        [contract] = quiet.add_contracts(1)
        quiet.advance(contract.id, "request_signature")
        quiet.advance(contract.id, "execute")
        assert not set(_lane_threads()) - before and quiet.webhook_deliveries() == []
        assert quiet.wait_for_webhooks(0.1)

    failing = listen(statuses=(500,) * 100)
    busy = Sandbox(contracts=5, seed=1).start()
    busy.set_webhook_delivery(attempts=50, backoff_s=30)  # stuck in a long backoff when stopped
    _subscribe(busy, failing.url(), ["CONTRACT_CREATED"])
    busy.add_contracts(3)
    failing.wait_for(1)
    assert len(set(_lane_threads()) - before) == 1  # one lane per URL
    started = time.monotonic()
    busy.stop()
    assert time.monotonic() - started < 5
    assert not set(_lane_threads()) - before
    busy.add_contracts(1)  # a change after stop sends nothing and starts nothing
    assert not set(_lane_threads()) - before and len(failing.received) == 1


def test_a_sandbox_process_sends_deliveries_and_keeps_its_key_off_the_command_line(listen):
    listener = listen()
    with SandboxProcess(contracts=5, seed=2, webhook_key=CANARY_KEY) as sp:
        with open(f"/proc/{sp.pid}/cmdline", "rb") as fh:
            assert CANARY_KEY.encode() not in fh.read()
        assert sp.set_webhook_delivery(backoff_s=0.05)["backoff_s"] == 0.05
        with httpx.Client(base_url=sp.base_url, headers=sp.headers, timeout=10) as api:
            assert api.get(HMAC_KEY).json()["hmac_key"] == CANARY_KEY
            api.post(HOOKS, json={"title": "p", "url": listener.url(), "only_for_activities": LIFECYCLE})
        [contract] = sp.add_contracts(1)
        sp.advance(contract["id"], "request_signature", performed_by="legal@sandbox.example")
        assert sp.wait_for_webhooks(5)
        _, requested = listener.wait_for(2)
        assert requested.json()["activity_data"]["performed_by"]["email"] == "legal@sandbox.example"
        assert requested.headers[SIGNATURE] == _signed(CANARY_KEY, requested.body)
        assert [d["status"] for d in sp.webhook_deliveries()] == [200, 200]
        [forged] = sp.send_webhook("forged", listener.url())
        assert forged["kind"] == "forged" and forged["status"] == 200
        assert [h["url"] for h in sp.webhooks] == [listener.url()]
        sp.reset_webhook_deliveries()
        assert sp.webhook_deliveries() == []
        assert sp.stop() == 0
