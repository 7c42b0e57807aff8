"""Tasks for contract notes.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "get_contract_notes",
    "update_contract_note",
]


@spotdraft_task("get_contract_notes")
def get_contract_notes(credentials: SpotDraftCredentials, composite_id: str) -> dict[str, Any]:
    """Notes on a contract."""
    return call_operation(credentials, "get_contract_notes", path_params={"composite_id": composite_id})


@spotdraft_task("update_contract_note")
def update_contract_note(
    credentials: SpotDraftCredentials,
    contract_id: str,
    note_id: str,
    body: m.ContractNoteUpdateRequest | dict[str, Any],
) -> dict[str, Any]:
    """Replace the text of a contract note."""
    return call_operation(
        credentials, "update_contract_note", path_params={"contract_id": contract_id, "note_id": note_id}, body=body
    )
