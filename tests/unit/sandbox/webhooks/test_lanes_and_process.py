"""The threads that carry deliveries: none without a subscription, one lane per URL, none left after stop
(even mid-backoff); and a `SandboxProcess` that delivers signed with a key it never puts on its command line."""

from __future__ import annotations

import threading
import time

from sandbox import Sandbox, SandboxProcess
from tests.support.sandbox_http import HMAC_KEY, HOOKS, api_client
from tests.support.sandbox_webhooks import CANARY_KEY, LIFECYCLE, SIGNATURE, signed, subscribe


def _lane_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sandbox-webhook")]


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
    subscribe(busy, failing.url(), ["CONTRACT_CREATED"])
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
        with api_client(sp) as api:
            assert api.get(HMAC_KEY).json()["hmac_key"] == CANARY_KEY
            api.post(HOOKS, json={"title": "p", "url": listener.url(), "only_for_activities": LIFECYCLE})
        [contract] = sp.add_contracts(1)
        sp.advance(contract["id"], "request_signature", performed_by="legal@sandbox.example")
        assert sp.wait_for_webhooks(5)
        _, requested = listener.wait_for(2)
        assert requested.json()["activity_data"]["performed_by"]["email"] == "legal@sandbox.example"
        assert requested.headers[SIGNATURE] == signed(CANARY_KEY, requested.body)
        assert [d["status"] for d in sp.webhook_deliveries()] == [200, 200]
        [forged] = sp.send_webhook("forged", listener.url())
        assert forged["kind"] == "forged" and forged["status"] == 200
        assert [h["url"] for h in sp.webhooks] == [listener.url()]
        sp.reset_webhook_deliveries()
        assert sp.webhook_deliveries() == []
        assert sp.stop() == 0
