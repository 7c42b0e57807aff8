"""Seeding: the workspace a seed gives, drawn from one `random.Random(seed)` in a fixed order.

Everything is dated relative to a fixed `ANCHOR`, not the wall clock, so the same seed gives
byte-identical answers on any day. Changing the order or number of draws changes every seed's data.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .records import STATUSES, Contract, Counterparty

if TYPE_CHECKING:
    from .data import SandboxState

ANCHOR = datetime(2025, 1, 1, tzinfo=UTC)
SPREAD = timedelta(days=270)  # seeded contracts were created over the nine months before ANCHOR
FIRST_CONTRACT_ID = 1000
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
TYPE_NAMES = dict(CONTRACT_TYPES)

def company(r: random.Random) -> str:
    return f"{r.choice(_PREFIXES)} {r.choice(_SUFFIXES)} {r.choice(_FORMS)}"


def person_name(r: random.Random) -> tuple[str, str]:
    return r.choice(_FIRST), r.choice(_LAST)


def seed_counterparties(r: random.Random, count: int) -> dict[int, Counterparty]:
    counterparties = {}
    for index in range(count):
        cp_id = 500 + index
        individual = r.random() < 0.1
        name = " ".join(person_name(r)) if individual else company(r)
        slug = re.sub(r"[^a-z0-9]+", "", name.lower().split(" ")[0]) or "party"
        contacts = []
        for n in range(1 if individual else r.randint(1, 3)):
            first, last = person_name(r)
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
        counterparties[cp_id] = Counterparty(cp_id, name, individual, contacts, address, status, brand)
    return counterparties


def key_pointers(r: random.Random, contract_id: int, created: datetime) -> list[dict[str, Any]]:
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


def draw_contract(state: SandboxState, contract_id: int, seeded: bool, given: dict[str, Any]) -> Contract:
    """One contract from the state's RNG; `given` overrides fields (used by create). Not stored."""
    r = state.rng
    kind = given.get("kind") or ("H" if r.random() < 0.2 else "T")
    if kind == "T":
        template = state.templates[given.get("template_id") or r.choice(state.template_ids)]
        type_id, template_id = template["contract_type_id"], template["id"]
    else:
        type_id, template_id = r.choice(CONTRACT_TYPES)[0], None
    cp = state.counterparties[r.choice(state.counterparty_ids)]
    if seeded:
        created = ANCHOR - timedelta(seconds=r.randrange(int(SPREAD.total_seconds())))
        updated = created + timedelta(
            seconds=r.randrange(max(1, int((ANCHOR - created).total_seconds())))
        )
    else:
        created = updated = state.stamp()
    if kind == "H":
        status = "EXECUTED" if r.random() < 0.9 else "VOIDED"
    else:
        status = r.choices(STATUSES, weights=(15, 20, 15, 40, 5, 5))[0]
    metadata: dict[str, Any] = {}
    if r.random() < 0.3:
        source = r.choice(_SOURCES)
        metadata = {"id": f"{source[:2].upper()}-{r.randrange(16**8):08x}", "source": source}
        if metadata["id"] in state.used_external:
            metadata = {}
    type_name = TYPE_NAMES[type_id]
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
        created_by=r.choice(state.users),
        template_id=template_id,
        external_metadata=metadata,
        key_pointers=key_pointers(r, contract_id, created),
    )
    for key in ("name", "status", "counter_party_name", "counterparty_id", "created_by",
                "external_metadata", "parties"):  # fmt: skip
        if key in given:
            setattr(contract, key, given[key])
    if not seeded and "status" not in given:
        contract.status = "DRAFT"
    return contract
