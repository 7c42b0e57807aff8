"""What the sandbox sends: each announced change to its subscribers, and bad deliveries on demand.

An announced change (data.py: create, send, request signature, sign, execute, metrics) becomes one
`ContractActivityDomainModel` body, serialised once and signed once, posted to every active
subscription whose `only_for_activities` holds the activity. That is done on the sender's lanes,
so the call that made the change returns at once.

A test can also send, to any URL, a delivery that misbehaves the way a receiver must survive:

    valid      a correctly signed delivery (any activity, any contract), without changing anything
    forged     signed with a key that is not the workspace's
    unsigned   no X-SD-WEBHOOK-CONTENT-HASH header at all
    truncated  signed, then cut to `keep` bytes (default: half) before it is sent
    replayed   a previous delivery's exact bytes and header, again (`delivery_id`, default the latest)
    oversized  a validly signed body of exactly `size` bytes (padded inside external_metadata)

Each is one attempt, never retried, so the log shows the receiver's answer to exactly that request.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from .activity import activity_body
from .data import Contract, Performer, SandboxState
from .delivery import Delivery, DeliverySettings, Sender
from .subscriptions import KNOWN_ACTIVITIES, WebhookRegistry
from .wire import dumps

MISBEHAVIOURS = ("valid", "forged", "unsigned", "truncated", "replayed", "oversized")
MAX_OVERSIZE = 64 * 1024 * 1024
PADDING_FIELD = "sandbox_padding"


class Outbox:
    def __init__(self, state: SandboxState, registry: WebhookRegistry, settings: DeliverySettings | None = None):
        self.state = state
        self.registry = registry
        self.sender = Sender(settings or DeliverySettings(), self._still_wanted)
        state.on_activity = self.publish

    @property
    def settings(self) -> DeliverySettings:
        return self.sender.settings

    def publish(self, contract: Contract, activity: str, performer: Performer) -> list[Delivery]:
        """Queue the change for every subscriber to `activity` (called with the state's lock held)."""
        subscribers = self.registry.matching(activity)
        if not subscribers:
            return []
        body = dumps(activity_body(self.state, contract, activity, performer))
        signature = self.registry.sign(body)
        deliveries = [
            Delivery(self.sender.next_id(), sub.url, body, signature, activity, contract.id, "event", sub.id,
                     dict(sub.custom_headers), self.settings.attempts)
            for sub in subscribers
        ]  # fmt: skip
        for delivery in deliveries:
            self.sender.submit(delivery)
        return deliveries

    def _still_wanted(self, delivery: Delivery) -> bool:
        if delivery.webhook_id is None:
            return True
        subscription = self.registry.get(delivery.webhook_id)
        return subscription is not None and subscription.status == "ACTIVE"

    # ------------------------------------------------------------------ misbehaving deliveries

    def misbehave(self, kind: str, *, url: str | None = None, webhook_id: int | None = None,
                  contract: int | str | None = None, activity: str = "CONTRACT_CREATED", size: int | None = None,
                  keep: int | None = None, delivery_id: int | None = None) -> Delivery:  # fmt: skip
        """Queue one delivery of `kind` (see MISBEHAVIOURS) to `url`, or to subscription `webhook_id`
        (its URL and custom headers). KeyError for an unknown webhook, contract or delivery."""
        if kind not in MISBEHAVIOURS:
            raise ValueError(f"kind must be one of {MISBEHAVIOURS}")
        if activity not in KNOWN_ACTIVITIES:
            raise ValueError(f"{activity!r} is not a SpotDraft activity type")
        headers: dict[str, str] = {}
        if webhook_id is not None:
            subscription = self.registry.get(int(webhook_id))
            if subscription is None:
                raise KeyError(f"no webhook {webhook_id}")
            url, headers = url or subscription.url, dict(subscription.custom_headers)
        if kind == "replayed":
            return self._replay(url, delivery_id, headers)
        if not url or not url.startswith(("http://", "https://")):
            raise ValueError("an http(s) url or a webhook_id is required")
        with self.state.lock:
            target = self._contract(contract)
            body_value = activity_body(self.state, target, activity, {"name": target.created_by.name,
                                                                       "email": target.created_by.email})
        body = _sized(body_value, size) if kind == "oversized" else dumps(body_value)
        signature = self.registry.sign(body)
        if kind == "forged":
            signature = hmac.new(os.urandom(64), body, hashlib.sha512).hexdigest()
        elif kind == "unsigned":
            signature = None
        elif kind == "truncated":
            cut = len(body) // 2 if keep is None else int(keep)
            if not 0 <= cut < len(body):
                raise ValueError(f"keep must be between 0 and {len(body) - 1} bytes")
            body = body[:cut]
        delivery = Delivery(self.sender.next_id(), url, body, signature, activity, target.id, kind,
                            custom_headers=headers)  # fmt: skip
        self.sender.submit(delivery)
        return delivery

    def _replay(self, url: str | None, delivery_id: int | None, headers: dict[str, str]) -> Delivery:
        source = self.sender.find(int(delivery_id)) if delivery_id is not None else self.sender.latest(url)
        if source is None:
            raise KeyError("no delivery to replay" if delivery_id is None else f"no delivery {delivery_id} kept")
        delivery = Delivery(self.sender.next_id(), url or source.url, source.body, source.signature, source.activity,
                            source.contract_id, "replayed", custom_headers=headers or dict(source.custom_headers))
        self.sender.submit(delivery)
        return delivery

    def _contract(self, key: int | str | None) -> Contract:
        if key is None:
            ids = self.state.ordered_ids()
            if not ids:
                raise KeyError("the sandbox has no contract")
            return self.state.contracts[ids[0]]
        found = self.state.get(key)
        if found is None:
            raise KeyError(f"no contract {key!r}")
        return found


def _sized(body: dict[str, Any], size: int | None) -> bytes:
    """`body` as JSON of exactly `size` bytes: ASCII padding in external_metadata, still valid JSON."""
    if size is None:
        raise ValueError("size (bytes) is required for an oversized delivery")
    padded = {**body, "external_metadata": {**body["external_metadata"], PADDING_FIELD: ""}}
    room = int(size) - len(dumps(padded))
    if room < 0 or size > MAX_OVERSIZE:
        raise ValueError(f"size must be between {int(size) - room} and {MAX_OVERSIZE} bytes")
    padded["external_metadata"][PADDING_FIELD] = "x" * room
    raw = dumps(padded)
    assert len(raw) == size
    return raw
