"""Webhook subscriptions and the workspace's key in the sandbox: registrations validated as the spec
describes, an unregistered subscription's deliveries (and their retries) stopped, and one key per
workspace, replaceable, never shown."""

from __future__ import annotations

import base64
import json
import os

import httpx

from sandbox import Sandbox
from tests.support.sandbox_http import HMAC_KEY, HOOKS, api_client
from tests.support.sandbox_webhooks import CANARY_KEY, SIGNATURE, signed, subscribe


def test_unregistering_stops_deliveries_and_their_retries(sb, listen):
    listener, failing = listen(), listen(statuses=(503,) * 10)
    hook = subscribe(sb, listener.url(), ["CONTRACT_CREATED"])
    sb.add_contracts(1)
    listener.wait_for(1)
    with api_client(sb) as api:
        assert api.delete(f"{HOOKS[:-1]}/{hook['id']}").status_code == 204
        assert api.delete(f"{HOOKS[:-1]}/{hook['id']}").status_code == 404
    assert sb.webhooks == []
    sb.add_contracts(2)
    assert sb.wait_for_webhooks(5)
    assert len(listener.received) == 1 and len(sb.webhook_deliveries(url=listener.url())) == 1

    sb.set_webhook_delivery(attempts=10, backoff_s=0.3)
    doomed = subscribe(sb, failing.url(), ["CONTRACT_CREATED"])
    sb.add_contracts(1)
    failing.wait_for(1)
    with api_client(sb) as api:
        api.delete(f"{HOOKS[:-1]}/{doomed['id']}")
    assert sb.wait_for_webhooks(5)
    assert len(failing.received) <= 2  # the retries stopped with the subscription, not after 10 attempts


def test_registration_is_validated_as_the_spec_describes(sb):
    good = {"title": "t", "url": "https://hooks.example.test/spotdraft", "only_for_activities": ["CONTRACT_SIGNED"]}
    with api_client(sb) as api:
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


def test_the_key_is_one_per_workspace_replaceable_and_never_shown(sb, listen):
    with Sandbox(contracts=1, seed=3) as other, api_client(other) as api:
        random_key = api.get(HMAC_KEY).json()["hmac_key"]
    assert random_key != CANARY_KEY and len(base64.b64decode(random_key)) == 64
    listener = listen()
    subscribe(sb, listener.url(), ["CONTRACT_CREATED"])
    new_key = base64.b64encode(os.urandom(32)).decode()
    answer = httpx.put(f"{sb.base_url}/_sandbox/webhooks/key", json={"hmac_key": new_key})
    assert answer.status_code == 200 and new_key not in answer.text
    assert httpx.put(f"{sb.base_url}/_sandbox/webhooks/key", json={"hmac_key": "not base64!"}).status_code == 400
    with api_client(sb) as api:
        assert api.get(HMAC_KEY).json()["hmac_key"] == new_key
    sb.add_contracts(1)
    [delivery] = listener.wait_for(1)
    assert delivery.headers[SIGNATURE] == signed(new_key, delivery.body) != signed(CANARY_KEY, delivery.body)
    sb.set_webhook_key(CANARY_KEY)
    shown = [httpx.get(f"{sb.base_url}/_sandbox/{path}").text
             for path in ("webhooks", "webhooks/deliveries", "webhooks/settings", "state", "requests")]  # fmt: skip
    shown += [repr(sb), repr(sb.app.webhooks), repr(sb.app.config), json.dumps(sb.webhooks)]
    for text in shown:
        assert CANARY_KEY not in text and new_key not in text
