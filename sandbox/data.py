"""The sandbox's workspace: seeded contracts, templates, counterparties and users.

Everything is drawn from one `random.Random(seed)` in a fixed order and dated relative to a fixed
`ANCHOR`, not the wall clock, so the same seed gives byte-identical answers on any day. Only
changes made while running (touch, create, add) use the real time, through a clock that never
goes backwards: each change is stamped strictly later than every stamp before it, so an
incremental sync with a `last_updated_on` watermark can never miss one.

The state is shared between the server's event loop thread and the test's thread, so every
public method takes the lock; none of them awaits, so holding a thread lock is fine.

Changes SpotDraft announces (a contract created, sent, put up for signature, signed, executed,
its process metrics updated) are reported to `on_activity` while the lock is held, so the
announcement describes exactly the contract the change produced; the sandbox's webhook outbox
listens there. `touch`, `poison` and `delete` stay quiet on purpose: they are the test's way to
change SpotDraft behind a subscriber's back.
"""

from __future__ import annotations

import random
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .wire import iso

ANCHOR = datetime(2025, 1, 1, tzinfo=UTC)
SPREAD = timedelta(days=270)  # seeded contracts were created over the nine months before ANCHOR
FIRST_CONTRACT_ID = 1000
STATUSES = ("DRAFT", "REDLINING", "SIGN", "EXECUTED", "ON_HOLD", "VOIDED")
COMPOSITE = re.compile(r"^([TH])-(\d+)$")
COMPOSITE_PATTERN = re.compile(r"^[HT\-0-9]+$")  # the spec's pattern for composite ids
SYSTEM = "SYSTEM"  # who SpotDraft says performed a change nobody made by hand
# step -> (activity SpotDraft announces, statuses the step may start from, status after; None = unchanged)
LIFECYCLE = {
    "send": ("CONTRACT_SENT_TO_COUNTERPARTY", ("DRAFT", "REDLINING"), "REDLINING"),
    "request_signature": ("CONTRACT_SIGNATURE_REQUESTED", ("DRAFT", "REDLINING"), "SIGN"),
    "sign": ("CONTRACT_SIGNED", ("SIGN",), None),
    "execute": ("CONTRACT_EXECUTED", ("SIGN",), "EXECUTED"),
    "update_metrics": ("CONTRACT_PROCESS_METRIC_UPDATED", STATUSES, None),
}

USERS = (
    ("admin@sandbox.example", "Avery Quinn"),
    ("legal@sandbox.example", "Lena Okafor"),
    ("sales@sandbox.example", "Marco Ruiz"),
    ("procurement@sandbox.example", "Priya Nair"),
    ("finance@sandbox.example", "Tom Becker"),
)
CONTRACT_TYPES = (
    (10, "Mutual NDA"),
    (11, "Master Services Agreement"),
    (12, "Statement of Work"),
    (13, "Data Processing Agreement"),
    (14, "Order Form"),
    (15, "Vendor Agreement"),
    (16, "Consulting Agreement"),
)
TEMPLATES = (  # id, name, contract type id, tags
    (100, "Mutual NDA (2024)", 10, ("legal", "standard")),
    (101, "MSA - Standard Terms", 11, ("legal",)),
    (102, "SOW - Time and Materials", 12, ("services",)),
    (103, "DPA - GDPR", 13, ("privacy",)),
    (104, "Order Form - SaaS", 14, ("sales",)),
    (105, "Consulting Agreement", 16, ("services",)),
)
_PREFIXES = (
    "Northwind", "Bluebird", "Cobalt", "Evergreen", "Granite", "Harbor", "Juniper", "Keystone",
    "Lumen", "Meridian", "Nimbus", "Orchid", "Pinnacle", "Quarry", "Redwood", "Summit",
    "Tidewater", "Vantage", "Willow", "Zephyr",
)  # fmt: skip
_SUFFIXES = ("Logistics", "Analytics", "Foods", "Health", "Robotics", "Capital", "Studios", "Energy", "Labs")
_FORMS = ("Inc.", "LLC", "Ltd.", "GmbH", "Pvt. Ltd.", "S.A.")
_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Farah", "Goran", "Hana", "Ivan", "Jia", "Kofi", "Lucia")
_LAST = ("Ahmed", "Brandt", "Costa", "Dubois", "Eriksen", "Fischer", "Gupta", "Haddad", "Ito", "Jensen")
_CITIES = (
    ("Austin", "Texas", "78701", "United States"),
    ("Bengaluru", "Karnataka", "560001", "India"),
    ("Berlin", "Berlin", "10115", "Germany"),
    ("Dubai", "Dubai", "00000", "United Arab Emirates"),
    ("Leeds", "West Yorkshire", "LS1 4AP", "United Kingdom"),
    ("Toronto", "Ontario", "M5H 2N2", "Canada"),
)
_LAWS = ("Delaware", "New York", "England and Wales", "Karnataka", "California", "Singapore")
_SOURCES = ("salesforce", "hubspot", "netsuite")


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


class StepRefused(Exception):
    """A lifecycle step the contract's status does not allow (SpotDraft answers such a request 4xx)."""


Performer = dict[str, str]  # {"name", "email"?}: who a webhook says performed the change
ActivityListener = Callable[[Contract, str, Performer], None]


class SandboxState:
    """The workspace and the operations tests use to change it while a sync is running."""

    def __init__(self, contracts: int = 100, seed: int = 0, workspace_id: int = 1, duplicate_rule: bool = True):
        self.seed = seed
        # True: a create whose external_metadata.id is taken answers 409 (a rule SpotDraft's spec does
        # not promise); False: it creates another contract, and the look-up by that id finds them all.
        self.duplicate_rule = duplicate_rule
        self.workspace_id = workspace_id
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.users = [User(e, n) for e, n in USERS]
        self.user_emails = frozenset(u.email for u in self.users)
        self.contract_types = [{"id": i, "name": n} for i, n in CONTRACT_TYPES]
        self._type_names = dict(CONTRACT_TYPES)
        self.templates = {
            i: {"id": i, "name": n, "contract_type_id": t, "tags": list(tags)} for i, n, t, tags in TEMPLATES
        }
        self.counterparties: dict[int, Counterparty] = {}
        self.contracts: dict[int, Contract] = {}  # ids ascending: created in order, never reused
        self.deleted: set[int] = set()
        self.version = 0  # bumped by every change; keys the filtered-id cache
        self._ids_cache: OrderedDict[Any, list[int]] = OrderedDict()
        self._ordered: list[int] | None = None
        self._next_id = FIRST_CONTRACT_ID
        self._used_external: set[str] = set()
        self._last_stamp = ANCHOR
        self._seed_counterparties(max(5, min(400, contracts // 8)))
        self._counterparty_ids = sorted(self.counterparties)
        self._template_ids = sorted(self.templates)
        for _ in range(contracts):
            self._new_contract(seeded=True)
        self._last_stamp = max((c.last_updated_on for c in self.contracts.values()), default=ANCHOR)
        self.version = 0
        self.on_activity: ActivityListener | None = None  # told of each change SpotDraft announces

    # ------------------------------------------------------------------ seeding

    def _company(self) -> str:
        r = self.rng
        return f"{r.choice(_PREFIXES)} {r.choice(_SUFFIXES)} {r.choice(_FORMS)}"

    def _person(self) -> tuple[str, str]:
        return self.rng.choice(_FIRST), self.rng.choice(_LAST)

    def _seed_counterparties(self, count: int) -> None:
        r = self.rng
        for index in range(count):
            cp_id = 500 + index
            individual = r.random() < 0.1
            name = " ".join(self._person()) if individual else self._company()
            slug = re.sub(r"[^a-z0-9]+", "", name.lower().split(" ")[0]) or "party"
            contacts = []
            for n in range(1 if individual else r.randint(1, 3)):
                first, last = self._person()
                email = f"{first.lower()}.{last.lower()}@{slug}.example"
                contacts.append({"id": cp_id * 10 + n, "name": f"{first} {last}", "email": email})
            city, state, zipcode, country = r.choice(_CITIES)
            address = {
                "id": cp_id * 10,
                "line_one": f"{r.randint(1, 999)} {r.choice(_PREFIXES)} Street",
                "city_name": city,
                "state_name": state,
                "zipcode": zipcode,
                "country_name": country,
                "email": contacts[0]["email"],
                "phone": f"+1-555-{r.randint(1000, 9999)}",
            }
            status = "ARCHIVED" if r.random() < 0.05 else "ACTIVE"
            brand = name.split(" ")[0]
            self.counterparties[cp_id] = Counterparty(
                cp_id, name, individual, contacts, address, status, brand
            )

    def _key_pointers(self, contract_id: int, created: datetime) -> list[dict[str, Any]]:
        r = self.rng
        term = r.choice((12, 24, 36))
        candidates = [
            ("effective_date", "Effective Date", "DATE", created.date().isoformat(),
             {"format": "YYYY-MM-DD"}),
            ("contract_value", "Contract Value", "CURRENCY",
             {"amount": r.randrange(1_000, 500_000, 500), "currency": "USD"}, {"currency": "USD"}),
            ("term_months", "Term (Months)", "NUMBER", term, {}),
            ("governing_law", "Governing Law", "TEXT", r.choice(_LAWS), {}),
            ("auto_renewal", "Auto Renewal", "BOOLEAN", r.random() < 0.5, {}),
        ]  # fmt: skip
        keep = r.randint(3, len(candidates))
        return [
            {"id": contract_id * 10 + n, "value": value, "label": label, "field_name": fname,
             "data_type": dtype, "format_option": fmt}
            for n, (fname, label, dtype, value, fmt) in enumerate(candidates[:keep])
        ]  # fmt: skip

    def _new_contract(self, seeded: bool, **given: Any) -> Contract:
        """One contract from the RNG; `given` overrides fields (used by create)."""
        r = self.rng
        contract_id = self._next_id
        self._next_id += 1
        kind = given.get("kind") or ("H" if r.random() < 0.2 else "T")
        if kind == "T":
            template = self.templates[given.get("template_id") or r.choice(self._template_ids)]
            type_id, template_id = template["contract_type_id"], template["id"]
        else:
            type_id, template_id = r.choice(CONTRACT_TYPES)[0], None
        cp = self.counterparties[r.choice(self._counterparty_ids)]
        if seeded:
            created = ANCHOR - timedelta(seconds=r.randrange(int(SPREAD.total_seconds())))
            updated = created + timedelta(
                seconds=r.randrange(max(1, int((ANCHOR - created).total_seconds())))
            )
        else:
            created = updated = self._now()
        if kind == "H":
            status = "EXECUTED" if r.random() < 0.9 else "VOIDED"
        else:
            status = r.choices(STATUSES, weights=(15, 20, 15, 40, 5, 5))[0]
        metadata: dict[str, Any] = {}
        if r.random() < 0.3:
            source = r.choice(_SOURCES)
            metadata = {"id": f"{source[:2].upper()}-{r.randrange(16**8):08x}", "source": source}
            if metadata["id"] in self._used_external:
                metadata = {}
        type_name = self._type_names[type_id]
        contract = Contract(
            id=contract_id,
            kind=kind,
            name=f"{type_name} - {cp.name}",
            status=status,
            created=created,
            last_updated_on=updated,
            contract_type_id=type_id,
            contract_type_name=type_name,
            counterparty_id=cp.id,
            counter_party_name=cp.name,
            created_by=r.choice(self.users),
            template_id=template_id,
            external_metadata=metadata,
            key_pointers=self._key_pointers(contract_id, created),
        )
        for key in ("name", "status", "counter_party_name", "counterparty_id", "created_by",
                    "external_metadata", "parties"):  # fmt: skip
            if key in given:
                setattr(contract, key, given[key])
        if not seeded and "status" not in given:
            contract.status = "DRAFT"
        self._store(contract)
        if not seeded:
            self._announce(contract, "CONTRACT_CREATED", _person(contract.created_by))
        return contract

    def _store(self, contract: Contract) -> None:
        self.contracts[contract.id] = contract
        ext = contract.external_metadata.get("id") if contract.external_metadata else None
        if ext is not None:
            self._used_external.add(str(ext))
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        self._ids_cache.clear()
        self._ordered = None

    def _announce(self, contract: Contract, activity: str, performer: Performer) -> None:
        if self.on_activity is not None:
            self.on_activity(contract, activity, performer)

    def _now(self) -> datetime:
        """Wall-clock now, but strictly after every stamp handed out before."""
        now = datetime.now(UTC)
        if now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        return now

    # ------------------------------------------------------------------ lookups

    def get(self, key: int | str) -> Contract | None:
        """By integer id, "1234", or composite "T-1234" (whose prefix must match the kind)."""
        with self.lock:
            if isinstance(key, int):
                return self.contracts.get(key)
            match = COMPOSITE.match(key)
            if match:
                found = self.contracts.get(int(match.group(2)))
                return found if found is not None and found.kind == match.group(1) else None
            return self.contracts.get(int(key)) if key.isdigit() else None

    def _require(self, key: int | str) -> Contract:
        found = self.get(key)
        if found is None:
            raise KeyError(f"no contract {key!r}")
        return found

    def ordered_ids(self) -> list[int]:
        with self.lock:
            if self._ordered is None:
                self._ordered = sorted(self.contracts)
            return self._ordered

    def filtered_ids(self, key: Any, predicates: Iterable[Callable[[Contract], bool]]) -> list[int]:
        """Ids passing every predicate, ascending; cached per filter set until the next change."""
        with self.lock:
            cached = self._ids_cache.get(key)
            if cached is not None:
                self._ids_cache.move_to_end(key)
                return cached
            preds = list(predicates)
            ids = [i for i in self.ordered_ids() if all(p(self.contracts[i]) for p in preds)]
            self._ids_cache[key] = ids
            if len(self._ids_cache) > 64:
                self._ids_cache.popitem(last=False)
            return ids

    def by_external_id(self, external_id: str) -> list[Contract]:
        with self.lock:
            return [
                c
                for c in self.contracts.values()
                if c.external_metadata and str(c.external_metadata.get("id")) == external_id
            ]

    # ------------------------------------------------------------------ changes

    def touch(
        self,
        key: int | str,
        *,
        name: str | None = None,
        status: str | None = None,
        at: datetime | None = None,
    ) -> Contract:
        """Mark a contract as changed now (or `at`), optionally renaming or re-statusing it."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        with self.lock:
            contract = self._require(key)
            if name is not None:
                contract.name = name
            if status is not None:
                contract.status = status
            contract.last_updated_on = at.astimezone(UTC) if at is not None else self._now()
            contract.changed()
            self._changed()
            return contract

    def advance(self, key: int | str, step: str, performed_by: str | None = None) -> Contract:
        """Take one lifecycle step (see LIFECYCLE) as SpotDraft's UI would, and announce it.

        `performed_by` is a workspace user's email; by default the contract's creator sends and
        requests signatures, its counterparty signs, and SYSTEM executes and updates metrics.
        StepRefused when the contract's status does not allow the step.
        """
        if step not in LIFECYCLE:
            raise ValueError(f"step must be one of {sorted(LIFECYCLE)}")
        if performed_by is not None and performed_by not in self.user_emails:
            raise ValueError("performed_by must be the email of a user of this workspace")
        activity, allowed, after = LIFECYCLE[step]
        with self.lock:
            contract = self._require(key)
            if contract.status not in allowed:
                raise StepRefused(f"cannot {step} contract {contract.id}: it is {contract.status}")
            if after is not None:
                contract.status = after
            contract.last_updated_on = self._now()
            contract.changed()
            self._changed()
            performer = _person(self.user(performed_by)) if performed_by else self._default_performer(contract, step)
            self._announce(contract, activity, performer)
            return contract

    def _default_performer(self, contract: Contract, step: str) -> Performer:
        if step == "sign":
            cp = self.counterparties.get(contract.counterparty_id) if contract.counterparty_id else None
            if cp is not None:
                return {"name": cp.contacts[0]["name"], "email": cp.contacts[0]["email"]}
            party = contract.parties[0] if contract.parties else {}
            return {"name": party.get("poc_name") or contract.counter_party_name,
                    **({"email": party["poc_email"]} if party.get("poc_email") else {})}  # fmt: skip
        if step in ("execute", "update_metrics"):
            return {"name": SYSTEM}
        return _person(contract.created_by)

    def add_contracts(
        self, count: int, overrides: dict[str, Any] | None = None, remove: Iterable[str] = ()
    ) -> list[Contract]:
        """`count` new contracts, as if created in SpotDraft's UI just now; with `overrides` or
        `remove`, poisoned from the start (see `poison`)."""
        with self.lock:
            added = [self._new_contract(seeded=False) for _ in range(count)]
            if overrides or remove:
                for contract in added:
                    self._set_poison(contract, overrides or {}, remove)
            return added

    def poison(self, key: int | str, overrides: dict[str, Any] | None = None, remove: Iterable[str] = ()) -> Contract:
        """Make a contract's list answers lie: `overrides` replaces fields with any JSON value (a dict
        for contract_name, "abc" or 2**70 for contract_type_id, text with NUL, None), `remove` leaves
        fields out ("contract_status", even "id"). Its true fields stay, for the snapshot and the
        per-contract endpoints. The contract counts as changed now, so an incremental sync reads it."""
        with self.lock:
            contract = self._require(key)
            self._set_poison(contract, overrides or {}, remove)
            contract.last_updated_on = self._now()
            return contract

    def _set_poison(self, contract: Contract, overrides: dict[str, Any], remove: Iterable[str]) -> None:
        contract.poison = {**contract.poison, **overrides}
        contract.poison_removed = tuple(dict.fromkeys([*contract.poison_removed, *remove]))
        contract.changed()
        self._changed()

    def delete(self, key: int | str) -> Contract:
        with self.lock:
            contract = self._require(key)
            del self.contracts[contract.id]
            self.deleted.add(contract.id)
            self._changed()
            return contract

    def create(
        self,
        *,
        template_id: int,
        name: str | None,
        counter_party_name: str,
        external_metadata: dict[str, Any],
        created_by: User,
        parties: list[dict[str, Any]] | None = None,
    ) -> Contract:
        """A contract created through the API: DRAFT, stamped now, keyed by its external id.
        `parties` are its counterparties as the request named them (webhook bodies carry them)."""
        with self.lock:
            template = self.templates[template_id]
            type_name = self._type_names[template["contract_type_id"]]
            return self._new_contract(
                seeded=False,
                kind="T",
                template_id=template_id,
                name=name or f"{type_name} - {counter_party_name}",
                status="DRAFT",
                counter_party_name=counter_party_name,
                counterparty_id=None,
                created_by=created_by,
                external_metadata=external_metadata,
                parties=parties or [],
            )

    def external_id_taken(self, external_id: str) -> list[int]:
        return [c.id for c in self.by_external_id(external_id)]

    def external_id_counts(self) -> dict[str, int]:
        """How many live contracts carry each external_metadata.id (more than 1: a duplicate)."""
        with self.lock:
            counts: dict[str, int] = {}
            for contract in self.contracts.values():
                ext = contract.external_metadata.get("id") if contract.external_metadata else None
                if ext is not None:
                    counts[str(ext)] = counts.get(str(ext), 0) + 1
            return counts

    def duplicates(self) -> dict[str, list[int]]:
        """External ids held by more than one live contract, with their contract ids."""
        with self.lock:
            return {ext: self.external_id_taken(ext) for ext, n in self.external_id_counts().items() if n > 1}

    def user(self, email: str | None) -> User:
        return next((u for u in self.users if u.email == email), self.users[0])

    def snapshot(self) -> list[dict[str, Any]]:
        """All live contracts with hidden fields, ascending by id (what a sync must reproduce)."""
        with self.lock:
            return [self.contracts[i].snapshot() for i in self.ordered_ids()]


def _person(user: User) -> Performer:
    return {"name": user.name, "email": user.email}
