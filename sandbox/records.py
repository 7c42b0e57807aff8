"""The workspace's records: users, counterparties and contracts, and how each answer shows them.

A contract keeps its true fields (hidden ones included, for `snapshot`) and, when a test poisoned it,
how its list answers lie. The answers are cached per contract until the next change (`changed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .wire import iso

STATUSES = ("DRAFT", "REDLINING", "SIGN", "EXECUTED", "ON_HOLD", "VOIDED")

@dataclass(frozen=True)
class Version:
    """One version of a contract's document: its id (current_version_id), size, and SpotDraft's file name."""

    id: int
    size: int
    file_name: str  # without its extension: the format asked for gives that


@dataclass(frozen=True)
class User:
    email: str
    name: str


@dataclass
class Counterparty:
    id: int
    name: str
    is_individual: bool
    contacts: list[dict[str, Any]]
    address: dict[str, Any]
    status: str = "ACTIVE"
    brand_name: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_individual": self.is_individual,
            "contacts": self.contacts,
            "primary_address": self.address,
            "status": self.status,
            "custom_fields": {},
            "brand_name": self.brand_name,
        }


@dataclass
class Contract:
    id: int
    kind: str  # "T": made from a template, "H": historical (uploaded, executed elsewhere)
    name: str
    status: str
    created: datetime
    last_updated_on: datetime  # hidden from every answer, as in SpotDraft; only filterable
    contract_type_id: int
    contract_type_name: str
    counterparty_id: int | None
    counter_party_name: str
    created_by: User
    template_id: int | None = None
    external_metadata: dict[str, Any] = field(default_factory=dict)
    key_pointers: list[dict[str, Any]] = field(default_factory=list)
    parties: list[dict[str, Any]] = field(default_factory=list)  # as a create request named them (no counterparty_id)
    poison: dict[str, Any] = field(default_factory=dict)  # list-answer fields replaced by values that fit no schema
    poison_removed: tuple[str, ...] = ()  # list-answer fields left out altogether ("id" included)
    versions: list[Version] = field(default_factory=list)  # its document's versions, oldest first
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def composite_id(self) -> str:
        return f"{self.kind}-{self.id}"

    @property
    def reference_id(self) -> str:
        return f"SD-{self.id}"

    def changed(self) -> None:
        self._cache.clear()

    def _poisoned(self, item: dict[str, Any]) -> dict[str, Any]:
        if not (self.poison or self.poison_removed):
            return item
        item = {**item, **self.poison}
        for name in self.poison_removed:
            item.pop(name, None)
        return item

    def _common(self, workspace_id: int) -> dict[str, Any]:
        return {
            "created": iso(self.created),
            "contract_name": self.name,
            "contract_link": f"https://app.sandbox.example/contracts/v2/{self.id}",
            "contract_status": self.status,
            "created_by": self.created_by.name,
            "counter_party_name": self.counter_party_name,
            "contract_type_name": self.contract_type_name,
            "contract_type_id": self.contract_type_id,
        }

    def as_list_item(self, workspace_id: int) -> dict[str, Any]:
        """`ContractResponseV2`: the list answer's item; its id is the composite id."""
        item = self._cache.get("v2")
        if item is None:
            item = {"id": self.composite_id, **self._common(workspace_id)}
            item["external_metadata"] = self.external_metadata
            item["reference_id"] = self.reference_id
            item["created_by_user_name"] = self.created_by.name
            item["created_by_user_email"] = self.created_by.email
            item["created_by_workspace"] = workspace_id
            item = self._cache["v2"] = self._poisoned(item)
        return item

    def as_v3(self, workspace_id: int) -> dict[str, Any]:
        """`ExternalContractV3`: the by-external-metadata item; its id is the integer id."""
        item = self._cache.get("v3")
        if item is None:
            item = {"id": self.id, **self._common(workspace_id)}
            item["created_by_workspace"] = workspace_id
            item["external_metadata"] = self.external_metadata
            item["reference_id"] = self.reference_id
            item = self._cache["v3"] = self._poisoned(item)
        return item

    def as_created(self, workspace_id: int) -> dict[str, Any]:
        """`ExternalCreateContractResponse`."""
        return {**self.as_v3(workspace_id), "id": self.composite_id, "contract_id": self.id}

    def as_status(self) -> dict[str, Any]:
        return {"contract_status": self.status, "contract_name": self.name}

    def snapshot(self) -> dict[str, Any]:
        """Everything the sandbox knows, hidden fields included: what a sync should end up with.

        A poisoned contract also says how its list answers lie (`poison`: fields replaced, removed).
        """
        extra = {}
        if self.poison or self.poison_removed:
            extra["poison"] = {"fields": dict(self.poison), "removed": list(self.poison_removed)}
        return {
            "id": self.id,
            "composite_id": self.composite_id,
            "kind": self.kind,
            "contract_name": self.name,
            "contract_status": self.status,
            "created": iso(self.created),
            "last_updated_on": iso(self.last_updated_on),
            "contract_type_id": self.contract_type_id,
            "contract_type_name": self.contract_type_name,
            "counterparty_id": self.counterparty_id,
            "counter_party_name": self.counter_party_name,
            "reference_id": self.reference_id,
            "template_id": self.template_id,
            "created_by": self.created_by.email,
            "external_metadata": self.external_metadata,
            **extra,
        }


Performer = dict[str, str]  # {"name", "email"?}: who a webhook says performed the change


def person(user: User) -> Performer:
    return {"name": user.name, "email": user.email}
