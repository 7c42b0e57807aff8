"""Native integration tasks written by hand; tasks.integrations re-exports them."""

from __future__ import annotations

import base64
from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task


# Hand-written: this route also wants an HTTP Basic authorization header made of the credentials, and the
# path parameters come in the path's order (generated ones are sorted by name).
@spotdraft_task("queue_native_integration_contracts")
def queue_native_integration_contracts(
    credentials: SpotDraftCredentials,
    integration_solution_entity_id: str,
    credential_public_id: str,
    body: m.CreateContractsForCoupaIntegrationRequest | dict[str, Any],
) -> dict[str, Any]:
    """Queue contract creation for a native integration; this route takes HTTP Basic auth of the credentials."""
    pair = f"{credentials.client_id}:{credentials.client_secret.get_secret_value()}".encode()
    return call_operation(
        credentials,
        "queue_native_integration_contracts",
        path_params={
            "integration_solution_entity_id": integration_solution_entity_id,
            "credential_public_id": credential_public_id,
        },
        body=body,
        headers={"authorization": "Basic " + base64.b64encode(pair).decode()},
    )
