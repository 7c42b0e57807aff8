"""The workspace's state: the seeded records and the changes tests make while a sync runs.

Seeding is in seeding.py, the records in records.py. Only changes made while running (touch, create,
add) use the real time, through a clock that never goes backwards: each change is stamped strictly
later than every stamp before it, so an incremental sync with a `last_updated_on` watermark never
misses one. Every public method takes the lock (shared by the server's loop and the test's thread).
Announced changes (created, sent, signed, ...) go to `on_activity` under the lock; `touch`, `poison`
and `delete` stay quiet on purpose: the test's way to change SpotDraft behind a subscriber's back.
"""

from __future__ import annotations

import random
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from .records import STATUSES, Contract, Counterparty, Performer, User, Version, person
from .seeding import (
    ANCHOR,
    CONTRACT_TYPES,
    FIRST_CONTRACT_ID,
    TEMPLATES,
    TYPE_NAMES,
    USERS,
    draw_contract,
    seed_counterparties,
)

__all__ = ["ANCHOR", "LIFECYCLE", "STATUSES", "Contract", "Counterparty", "Performer", "SandboxState",
           "StepRefused", "User", "Version"]  # fmt: skip

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
VERSION_UPLOADED = "CONTRACT_VERSION_UPLOADED"
MAX_DOCUMENT_BYTES = 2**32  # a version's size, at most (the document is made as it is sent, never stored)


class StepRefused(Exception):
    """A lifecycle step the contract's status does not allow (SpotDraft answers such a request 4xx)."""


ActivityListener = Callable[[Contract, str, Performer], None]


class SandboxState:
    """The workspace and the operations tests use to change it while a sync is running."""

    def __init__(self, contracts: int = 100, seed: int = 0, workspace_id: int = 1, duplicate_rule: bool = True):
        self.lock = threading.RLock()
        self.on_activity: ActivityListener | None = None  # told of each change SpotDraft announces
        self._seeded_with = (contracts, seed, workspace_id, duplicate_rule)
        self.changes = 0  # every change ever, across resets: what the analytics database was built from
        self._seed(contracts, seed, workspace_id, duplicate_rule)

    def _seed(self, contracts: int, seed: int, workspace_id: int, duplicate_rule: bool) -> None:
        self.seed = seed
        # True: a create whose external_metadata.id is taken answers 409 (a rule SpotDraft's spec does
        # not promise); False: it creates another contract, and the look-up by that id finds them all.
        self.duplicate_rule = duplicate_rule
        self.workspace_id = workspace_id
        self.analytics_enabled = True  # False: the analytics query API answers 501 (SD_PUBLIC_00045)
        self.analytics_values: dict[tuple[str, Any, str], Any] = {}  # (table, key, column) -> value shown
        self.rng = random.Random(seed)
        self.users = [User(e, n) for e, n in USERS]
        self.user_emails = frozenset(u.email for u in self.users)
        self.contract_types = [{"id": i, "name": n} for i, n in CONTRACT_TYPES]
        self.templates = {
            i: {"id": i, "name": n, "contract_type_id": t, "tags": list(tags)} for i, n, t, tags in TEMPLATES
        }
        self.contracts: dict[int, Contract] = {}  # ids ascending: created in order, never reused
        self.deleted: set[int] = set()
        self.version = 0  # bumped by every change; keys the filtered-id cache
        self._ids_cache: OrderedDict[Any, list[int]] = OrderedDict()
        self._ordered: list[int] | None = None
        self._next_id = FIRST_CONTRACT_ID
        self._next_version_id = 1  # current_version_id: one sequence for the workspace, as a database's ids
        self.used_external: set[str] = set()
        self._last_stamp = ANCHOR
        self.counterparties: dict[int, Counterparty] = seed_counterparties(self.rng, max(5, min(400, contracts // 8)))
        self.counterparty_ids = sorted(self.counterparties)
        self.template_ids = sorted(self.templates)
        for _ in range(contracts):
            self._new_contract(seeded=True)
        self._last_stamp = max((c.last_updated_on for c in self.contracts.values()), default=ANCHOR)
        self.version = 0

    def reset(self) -> None:
        """Back to exactly what the constructor seeded (same records, ids, rule), silently."""
        with self.lock:
            self._seed(*self._seeded_with)

    def _new_contract(self, seeded: bool, **given: Any) -> Contract:
        """One contract from the RNG, stored; `given` overrides fields (used by create)."""
        contract = draw_contract(self, self._next_id, seeded, given)
        self._next_id += 1
        contract.versions.append(self._version(contract))
        self._store(contract)
        if not seeded:
            self._announce(contract, "CONTRACT_CREATED", person(contract.created_by))
        return contract

    def _store(self, contract: Contract) -> None:
        self.contracts[contract.id] = contract
        ext = contract.external_metadata.get("id") if contract.external_metadata else None
        if ext is not None:
            self.used_external.add(str(ext))
        self._changed()

    def _changed(self) -> None:
        self.changes += 1
        self.version += 1
        self._ids_cache.clear()
        self._ordered = None

    def _version(self, contract: Contract, size: int | None = None, file_name: str | None = None) -> Version:
        """The contract's next version: a few KB unless `size` is given, named as SpotDraft names files."""
        number = self._next_version_id
        self._next_version_id += 1
        size = 4096 + (contract.id * 7919 + number * 104729) % 8192 if size is None else size
        return Version(number, size, f"{contract.name} {number:04x}" if file_name is None else file_name)

    def _announce(self, contract: Contract, activity: str, performer: Performer) -> None:
        if self.on_activity is not None:
            self.on_activity(contract, activity, performer)

    def stamp(self) -> datetime:
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
            contract.last_updated_on = at.astimezone(UTC) if at is not None else self.stamp()
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
            contract.last_updated_on = self.stamp()
            contract.changed()
            self._changed()
            performer = person(self.user(performed_by)) if performed_by else self._default_performer(contract, step)
            self._announce(contract, activity, performer)
            return contract

    def new_version(self, key: int | str, *, size: int | None = None, file_name: str | None = None) -> Contract:
        """A new version of the contract's document, uploaded now by its creator: its current_version_id
        changes, it counts as changed, and CONTRACT_VERSION_UPLOADED is announced. `size` in bytes (default:
        a few KB, like the seeded ones); `file_name` without extension, any text (tests give hostile ones)."""
        if size is not None and not 0 <= size <= MAX_DOCUMENT_BYTES:
            raise ValueError(f"size must be between 0 and {MAX_DOCUMENT_BYTES} bytes")
        with self.lock:
            contract = self._require(key)
            contract.versions.append(self._version(contract, size, file_name))
            contract.last_updated_on = self.stamp()
            contract.changed()
            self._changed()
            self._announce(contract, VERSION_UPLOADED, person(contract.created_by))
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
        return person(contract.created_by)

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
            contract.last_updated_on = self.stamp()
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
            type_name = TYPE_NAMES[template["contract_type_id"]]
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

    def set_analytics_value(self, table: str, key: Any, column: str, value: Any) -> None:
        """Show `value` in `column` of the analytics row of `table` whose key is `key` (see analytics.py)."""
        from .analytics import catalog

        spec = catalog()["tables"].get(table)
        if spec is None or table not in catalog()["allowlisted"] or not spec["key"]:
            raise ValueError(f"{table!r} is not an allowlisted analytics table with a key")
        if column not in {name for name, _ in spec["columns"]}:
            raise ValueError(f"{table} has no column {column!r}")
        with self.lock:
            self.analytics_values[(table, key, column)] = value
            self._changed()

    def user(self, email: str | None) -> User:
        return next((u for u in self.users if u.email == email), self.users[0])

    def snapshot(self) -> list[dict[str, Any]]:
        """All live contracts with hidden fields, ascending by id (what a sync must reproduce)."""
        with self.lock:
            return [self.contracts[i].snapshot() for i in self.ordered_ids()]

