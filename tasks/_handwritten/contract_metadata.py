"""Key pointer tasks written by hand; tasks.contract_metadata re-exports them."""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from tasks._base import call_operation, spotdraft_task


# Hand-written: the docstring says what a key pointer is.
@spotdraft_task("get_contract_key_pointers")
def get_contract_key_pointers(credentials: SpotDraftCredentials, composite_id: str) -> list[dict[str, Any]]:
    """The key pointers (extracted metadata values) of one contract."""
    return call_operation(credentials, "get_contract_key_pointers", path_params={"composite_id": composite_id})
