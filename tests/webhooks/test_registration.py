"""register_webhook / unregister_webhook against the sandbox, on the Prefect test harness."""

from __future__ import annotations

import base64

import pytest
from prefect.blocks.system import Secret

from flows import register_webhook, unregister_webhook

pytestmark = pytest.mark.usefixtures("prefect_api")

CANARY_KEY = base64.b64encode(b"canary-webhook-key-0123456789abcdef").decode()


def test_registering_subscribes_the_url_and_keeps_the_key_in_a_secret_block(sandbox, credentials, all_logs):
    sandbox.set_webhook_key(CANARY_KEY)
    url = "https://hooks.example.com/spotdraft/webhooks"
    state = register_webhook(credentials, url, ["CONTRACT_EXECUTED", "CONTRACT_SIGNED"], key_block="test-hook-key",
                             return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    [webhook] = sandbox.webhooks
    assert (webhook["url"], sorted(webhook["only_for_activities"])) == (url, ["CONTRACT_EXECUTED", "CONTRACT_SIGNED"])
    assert result == {"webhook_id": webhook["id"], "url": url, "activities": ["CONTRACT_EXECUTED", "CONTRACT_SIGNED"],
                      "key_block": "test-hook-key"}
    assert Secret.load("test-hook-key").get() == CANARY_KEY
    assert CANARY_KEY not in all_logs.text and CANARY_KEY not in repr(result)

    state = unregister_webhook(credentials, webhook["id"], key_block="test-hook-key", return_state=True)
    assert state.result() == {"webhook_id": webhook["id"], "webhook": "deleted", "key_block_deleted": True}
    assert sandbox.webhooks == []
    with pytest.raises(ValueError):
        Secret.load("test-hook-key")
    again = unregister_webhook(credentials, webhook["id"], key_block="test-hook-key")
    assert again == {"webhook_id": webhook["id"], "webhook": "already gone", "key_block_deleted": False}


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/spotdraft/webhooks",  # plain http beyond loopback: SpotDraft needs https
    "https://user:pw@hooks.example.com/spotdraft/webhooks",
    "ftp://hooks.example.com/x",
    "hooks.example.com/spotdraft/webhooks",
    "https://hooks.example.com/spotdraft/webhooks#frag",
])
def test_a_bad_receiver_url_is_refused_before_any_request(sandbox, credentials, url):
    sandbox.reset_log()
    state = register_webhook(credentials, url, return_state=True)
    assert state.is_failed() and "url" in state.message.lower()
    assert "pw@" not in state.message
    assert sandbox.requests == [] and sandbox.webhooks == []


def test_an_unknown_activity_is_refused_before_any_request(sandbox, credentials):
    sandbox.reset_log()
    state = register_webhook(credentials, "https://hooks.example.com/h", ["CONTRACT_EXPLODED"], return_state=True)
    assert state.is_failed() and "activities" in state.message
    state = register_webhook(credentials, "https://hooks.example.com/h", [], return_state=True)
    assert state.is_failed() and "activities" in state.message
    assert sandbox.requests == []
