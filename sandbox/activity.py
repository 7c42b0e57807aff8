"""What a webhook delivery says: SpotDraft's `ContractActivityDomainModel` for one contract change.

Filled from the sandbox's own contract, hidden fields included, so a receiver that trusts the
delivery sees what a sync of that contract would see: the integer contract id, its status after the
change, its external metadata, and the change's own `last_updated_on` stamp as the activity's
timestamp (a receiver can compare it with a sync watermark).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .wire import iso

if TYPE_CHECKING:
    from .data import Contract, Performer, SandboxState

# The spec's ContractActivityDomainModelContractKindEnum for the sandbox's two kinds of contract.
CONTRACT_KINDS = {"T": "TEMPLATE_CONTRACT", "H": "EXECUTED_CONTRACT"}
LEGAL_USER_EMAIL = "legal@sandbox.example"


def activity_body(state: SandboxState, contract: Contract, activity: str, performer: Performer) -> dict[str, Any]:
    legal = state.user(LEGAL_USER_EMAIL)
    body: dict[str, Any] = {
        "activity_data": {"performed_by": dict(performer), "timestamp": iso(contract.last_updated_on)},
        "activity": activity,
        "contract_id": contract.id,
        "contract_title": contract.name,
        "contract_type": contract.contract_type_name,
        "contract_type_name": contract.contract_type_name,
        "contract_type_id": contract.contract_type_id,
        "contract_status": contract.status,
        "contract_kind": CONTRACT_KINDS[contract.kind],
        "business_user": {"name": contract.created_by.name, "email": contract.created_by.email},
        "legal_user": {"name": legal.name, "email": legal.email},
        "created_at": iso(contract.created),
        "counterparties": _counterparties(state, contract),
        "external_metadata": dict(contract.external_metadata),
        "contract_reference_id": contract.reference_id,
    }
    if contract.template_id is not None:
        body["contract_template_id"] = contract.template_id
    return body


def _counterparties(state: SandboxState, contract: Contract) -> list[dict[str, Any]]:
    cp = state.counterparties.get(contract.counterparty_id) if contract.counterparty_id else None
    if cp is None:  # created through the API: the parties as the request named them
        return [dict(p) for p in contract.parties] or [
            {"type": "Organization", "organization_name": contract.counter_party_name}
        ]
    poc = cp.contacts[0]
    return [{
        "type": "Individual" if cp.is_individual else "Organization",
        "organization_name": cp.name,
        "poc_name": poc["name"],
        "poc_email": poc["email"],
        "counterparty_id": cp.id,
    }]  # fmt: skip


def party_from_request(details: dict[str, Any], name: str) -> dict[str, Any]:
    """One `counter_party_details` item of a create request, as a webhook names it."""
    poc = details.get("poc_details") or {}
    party = {"type": "Individual" if details.get("is_individual") else "Organization", "organization_name": name}
    poc_name = f"{poc.get('first_name') or ''} {poc.get('last_name') or ''}".strip()
    if poc_name:
        party["poc_name"] = poc_name
    if poc.get("email"):
        party["poc_email"] = poc["email"]
    return party
