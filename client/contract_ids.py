"""A contract as its id is given: 123 (SpotDraft's integer id, as webhook deliveries carry it), or the
composite id the per-contract endpoints take, T-123 (made from a template) or H-123 (uploaded).

The integer is the contract's identity: T-123 and H-123 cannot both exist. One place, so the webhook
receiver never emits an event for an id the per-contract sync would refuse.
"""

from __future__ import annotations

import re
from typing import Any

CONTRACT_ID = re.compile(r"(?:[TH]-)?([0-9]{1,18})")


def as_text(contract_id: Any) -> Any:
    """An integer id (as deliveries and Python callers give it) as its text; anything else as it is."""
    return str(contract_id) if isinstance(contract_id, int) and not isinstance(contract_id, bool) else contract_id


def contract_key(contract_id: Any) -> str:
    """SpotDraft's integer id, as text, of a contract given as 123, "123", "T-123" or "H-123"; ValueError else."""
    text = as_text(contract_id)
    match = CONTRACT_ID.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"contract_id must be a contract's id (123) or composite id (T-123, H-123), "
                         f"not {str(contract_id)[:40]!r}")
    return str(int(match.group(1)))
