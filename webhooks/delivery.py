"""A verified delivery's body, read as SpotDraft's `ContractActivityDomainModel`, and the Prefect event it becomes.

The design, and why: docs/design/webhooks.md (section `webhooks/delivery.py`).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prefect.events import Event
from prefect.settings import PREFECT_EVENTS_MAXIMUM_RELATED_RESOURCES

from client.contract_ids import contract_key
from client.redaction import redact, scrub_text
from client.text import NOT_UTF8_OR_NUL, replace_unfit

# Fixed forever: changing it would give every past delivery a new event id and defeat replay detection.
DELIVERY_ID_NAMESPACE = uuid.UUID("4d2f7c1e-8b1a-5e3c-9f6d-2a7b0c9e1d54")
# An activity name, which names the event: not CONTRACT_ alone, which would name it "spotdraft.contract.".
_ACTIVITY = re.compile(r"(?!(?i:contract_)$)[A-Za-z][A-Za-z0-9_]{0,99}")
MAX_DEPTH = 64  # nesting a delivery may have; SpotDraft's is 3 or 4 deep. Deeper is refused, never recursed into.
# Ids and labels go into indexed columns of Prefect's event tables (PostgreSQL's index entries hold about 2.7 KB;
# a longer one fails the server's whole batch of events): ids as long as a contract id, labels cut short.
MAX_ID = 10**18 - 1
MAX_LABEL = 500


class DeliveryRefused(ValueError):
    """A correctly signed body that cannot become an event; the message says why (never the body)."""


def delivery_digest(body: bytes) -> str:
    """What identifies a delivery: the SHA-256 of its raw bytes (a replay sends the same bytes)."""
    return hashlib.sha256(body).hexdigest()


def event_id_for(digest: str) -> uuid.UUID:
    return uuid.uuid5(DELIVERY_ID_NAMESPACE, digest)


@dataclass(frozen=True)
class Delivery:
    digest: str
    contract_id: str
    activity: str
    fields: dict[str, Any]

    @classmethod
    def from_body(cls, body: bytes) -> Delivery:
        try:
            fields = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise DeliveryRefused("the body is not JSON") from None
        except RecursionError:
            raise DeliveryRefused(f"the body is nested deeper than {MAX_DEPTH} levels") from None
        if not isinstance(fields, dict):
            raise DeliveryRefused("the body is not a JSON object")
        if _depth_over(fields, MAX_DEPTH):
            raise DeliveryRefused(f"the body is nested deeper than {MAX_DEPTH} levels")
        fields = sendable(fields)  # after the depth check: it recurses
        activity = fields.get("activity")
        if not isinstance(activity, str) or not _ACTIVITY.fullmatch(activity):
            raise DeliveryRefused("'activity' is missing or is not an activity name")
        return cls(delivery_digest(body), _contract_id(fields.get("contract_id")), activity, fields)

    @property
    def event_id(self) -> uuid.UUID:
        return event_id_for(self.digest)

    @property
    def event_name(self) -> str:
        return f"spotdraft.contract.{self.activity.lower().removeprefix('contract_')}"

    def to_event(self, received_at: datetime) -> Event:
        resource = {
            "prefect.resource.id": f"spotdraft.contract.{self.contract_id}",
            "spotdraft.contract.id": self.contract_id,
            "spotdraft.activity": self.activity,
            **_text_labels(self.fields, {"contract_title": "prefect.resource.name",
                                         "contract_status": "spotdraft.contract.status",
                                         "contract_kind": "spotdraft.contract.kind"}),
        }
        return Event.model_validate({
            "id": self.event_id, "occurred": received_at, "event": self.event_name, "resource": resource,
            "related": self._related()[:PREFECT_EVENTS_MAXIMUM_RELATED_RESOURCES.value()],
            "payload": redact(self.fields),
        })

    def _related(self) -> list[dict[str, str]]:
        related = []
        if _is_id(self.fields.get("contract_type_id")):
            related.append({"prefect.resource.id": f"spotdraft.contract-type.{self.fields['contract_type_id']}",
                            "prefect.resource.role": "contract-type",
                            **_text_labels(self.fields, {"contract_type_name": "prefect.resource.name"})})
        if _is_id(self.fields.get("contract_template_id")):
            related.append({"prefect.resource.id": f"spotdraft.template.{self.fields['contract_template_id']}",
                            "prefect.resource.role": "template"})
        counterparties = self.fields.get("counterparties")
        for party in counterparties if isinstance(counterparties, list) else []:
            if isinstance(party, dict) and _is_id(party.get("counterparty_id")):
                related.append({"prefect.resource.id": f"spotdraft.counterparty.{party['counterparty_id']}",
                                "prefect.resource.role": "counterparty",
                                **_text_labels(party, {"organization_name": "prefect.resource.name"})})
        return related


def sendable(value: Any) -> Any:
    """A JSON-like value Prefect can take: NUL and lone surrogates in text (keys too) become U+FFFD, as the
    flows' store makes them (client.text), and NaN and Infinity become None, as Prefect's serializer writes them."""
    return replace_unfit(value, NOT_UTF8_OR_NUL, non_finite_as_none=True)


def _contract_id(value: Any) -> str:
    """The spec's `contract_id` is an integer; its text, or a composite id (T-123), is accepted too, as
    the per-contract sync takes them (client.contract_ids): an event names a contract it can sync."""
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value) == str(value).strip():
        try:
            return contract_key(value)
        except ValueError:
            pass
    raise DeliveryRefused("'contract_id' is missing or is not a contract id")


def _depth_over(value: Any, limit: int) -> bool:
    """Whether `value` nests deeper than `limit` containers, found without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


def _text_labels(fields: dict[str, Any], labels: dict[str, str]) -> dict[str, str]:
    """Labels from the fields holding non-empty text (a label must be a string), scrubbed as the payload is."""
    return {label: _cut(scrub_text(fields[name])) for name, label in labels.items()
            if isinstance(fields.get(name), str) and fields[name]}


def _cut(text: str) -> str:
    """A label of at most MAX_LABEL characters (the payload keeps the whole text)."""
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "\u2026"
