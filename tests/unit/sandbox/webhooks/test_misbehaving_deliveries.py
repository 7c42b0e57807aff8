"""Misbehaving deliveries on demand: forged, unsigned, truncated, replayed and oversized deliveries arrive
exactly as asked (the admin route refuses what it cannot send), and a replay keeps the subscription's
custom headers."""

from __future__ import annotations

import json

import httpx

from tests.support.sandbox_webhooks import CANARY_KEY, SIGNATURE, signed, subscribe


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

    assert r_valid.headers[SIGNATURE] == signed(CANARY_KEY, r_valid.body)
    assert r_valid.json()["activity"] == "CONTRACT_EXECUTED" and r_valid.json()["contract_id"] == 1002
    assert len(r_forged.headers[SIGNATURE]) == 128 and r_forged.headers[SIGNATURE] != signed(CANARY_KEY, r_forged.body)
    json.loads(r_forged.body)  # a well-formed body: only the signature gives it away
    assert SIGNATURE not in r_unsigned.headers
    assert r_truncated.body == r_valid.body[: len(r_valid.body) // 2]  # cut after signing:
    assert r_truncated.headers[SIGNATURE] == r_valid.headers[SIGNATURE]  # the header is the whole body's
    assert (r_replayed.body, r_replayed.headers[SIGNATURE]) == (r_valid.body, r_valid.headers[SIGNATURE])
    assert len(r_oversized.body) == 300_000 and r_oversized.headers[SIGNATURE] == signed(CANARY_KEY, r_oversized.body)
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
    hook = subscribe(sb, listener.url(), ["CONTRACT_CREATED"], custom_headers={"X-Receiver-Token": "t-1"})
    sb.add_contracts(1)
    [first] = listener.wait_for(1)
    [again] = sb.send_webhook("replayed", webhook_id=hook["id"])  # the latest delivery to that URL
    second = listener.wait_for(2)[1]
    assert again.kind == "replayed" and second.body == first.body
    assert second.headers[SIGNATURE] == first.headers[SIGNATURE] and second.headers["x-receiver-token"] == "t-1"
