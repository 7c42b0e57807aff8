"""The sandbox sends webhook deliveries as SpotDraft would: signed with the workspace's key over the raw
bytes, in the spec's schema, in order per URL (one URL's unanswered delivery holds only that URL's),
and retried with backoff (the same bytes again) until answered.

A listener on loopback records what arrives, and each delivery is checked as a receiver must check it.
"""

from __future__ import annotations

import hashlib
import itertools
import socket
import threading

import httpx

from client import SpotDraftClient
from tests.support.sandbox_http import V21, api_client, create_body
from tests.support.sandbox_webhooks import CANARY_KEY, LIFECYCLE, SIGNATURE, signed, subscribe


def test_a_contract_created_through_the_api_is_delivered_signed_with_the_workspace_key(sb, listen, activity_schema):
    listener = listen()
    with SpotDraftClient(sb.client_id, sb.client_secret, base_url=sb.base_url) as client:
        hook = client.call("create_webhook", body={
            "title": "contracts", "url": listener.url(), "only_for_activities": ["CONTRACT_CREATED"],
            "custom_headers": {"X-Receiver-Token": "receiver-token-1"}})  # fmt: skip
        key = client.call("get_webhook_hmac_key")["hmac_key"]
        assert key == client.call("get_webhook_hmac_key")["hmac_key"] == CANARY_KEY  # one stable key
        created = client.call("create_contract", body=create_body("crm-hook-1"))
    assert hook["status"] == "ACTIVE" and hook["only_for_activities"] == ["CONTRACT_CREATED"]

    [delivery] = listener.wait_for(1)
    assert delivery.headers[SIGNATURE] == signed(key, delivery.body)
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
    subscribe(sb, everything.url(), LIFECYCLE)
    subscribe(sb, executed_only.url("/executed"), ["CONTRACT_EXECUTED"])
    [contract] = httpx.post(f"{sb.base_url}/_sandbox/contracts", json={"count": 1}).json()["contracts"]
    cid = contract["id"]
    with api_client(sb) as api:  # each change returns while the first delivery is still unanswered
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


def test_a_failed_delivery_is_retried_with_backoff_and_later_ones_wait_their_turn(sb, listen):
    listener = listen(statuses=(500, 502))
    subscribe(sb, listener.url(), ["CONTRACT_CREATED", "CONTRACT_SENT_TO_COUNTERPARTY"])
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
    subscribe(sb, nobody, ["CONTRACT_EXECUTED"])
    sb.advance(contract.id, "request_signature")
    sb.advance(contract.id, "execute")
    assert sb.wait_for_webhooks(5)
    down = sb.webhook_deliveries(url=nobody)
    closed.close()
    assert [(a.attempt, a.status, a.error) for a in down] == [(n, None, "ConnectError") for n in (1, 2, 3)]
