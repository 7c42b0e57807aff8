"""The catalog of SpotDraft operations (core entries; the full catalog is generated, see tools/).

Each entry says how to call one operation; `OPERATIONS_BY_NAME` is how the client finds it.
"""

from __future__ import annotations

from client.models import ExternalCreateContractV2_1
from client.operation import Operation, Param

_COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in")


def _filters(fields: dict[str, str]) -> tuple[Param, ...]:
    """List filters: `filter__<field>` (exact) and `filter__<field>[$op]` for each comparison."""
    params = []
    for name, kind in fields.items():
        params.append(Param(f"filter__{name}", "query", type=kind))
        params.extend(Param(f"filter__{name}[${op}]", "query") for op in _COMPARISONS)
    return tuple(params)


_PAGING = (Param("page", "query", type="integer"), Param("limit", "query", type="integer"))
_COMPOSITE_ID = Param("composite_id", "path", required=True, pattern=r"^[HT\-0-9]+$")

_CONTRACT_FILTERS = {
    "approvals_pending": "string", "assigned_to": "integer", "business_user_id": "integer",
    "client_brand_name": "string", "client_email": "string", "client_email_address": "string",
    "client_name": "string", "contract_id": "string", "contract_kind": "string",
    "contract_packet_name": "string", "contract_reference_id": "string", "contract_type_id": "integer",
    "contract_type_name": "string", "created_at": "string", "display_status": "string",
    "entity_name": "string", "execution_date": "string", "expiring_at": "string",
    "last_updated_on": "string", "legal_user_id": "integer", "pending_with": "string",
    "signatories": "string", "signatures_completed_by": "string", "signatures_pending_on": "string",
    "signatures_rejected_by": "string", "tags": "string",
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="list_contracts", method="GET", path="/api/v2.1/public/contracts/", version="v2.1",
        family="contracts", operation_id="v2.1_public_contracts_retrieve", safe_to_retry=True,
        summary="List contracts", paginated=True,
        params=(*_PAGING, Param("query", "query"), *_filters(_CONTRACT_FILTERS)),
    ),
    Operation(
        name="create_contract", method="POST", path="/api/v2.1/public/contracts/", version="v2.1",
        family="contracts", operation_id="v2.1_public_contracts_create", safe_to_retry=False,
        summary="Create a contract from a template", body_model=ExternalCreateContractV2_1, body_kind="json",
        body_required=True,
    ),
    Operation(
        name="get_contract_status", method="GET", path="/api/v2.1/public/contracts/{composite_id}/status",
        version="v2.1", family="contracts", operation_id="v2.1_public_contracts_status_retrieve",
        safe_to_retry=True, summary="Get a contract's status", params=(_COMPOSITE_ID,),
    ),
    Operation(
        name="get_contracts_by_external_metadata", method="GET",
        path="/api/v2.1/public/contracts/by_external_metadata/{external_metadata_id}", version="v2.1",
        family="contracts", operation_id="v2.1_public_contracts_by_external_metadata_retrieve",
        safe_to_retry=True, summary="Find contracts by external metadata id",
        params=(Param("external_metadata_id", "path", required=True),),
    ),
    Operation(
        name="get_contract_key_pointers", method="GET",
        path="/api/v2.1/public/contracts/{composite_id}/key_pointers", version="v2.1",
        family="contract_metadata", operation_id="v2.1_public_contracts_key_pointers_retrieve",
        safe_to_retry=True, summary="Get a contract's key pointers (metadata values)", params=(_COMPOSITE_ID,),
    ),
    Operation(
        name="list_templates", method="GET", path="/api/v2.1/public/templates/", version="v2.1",
        family="templates", operation_id="v2.1_public_templates_list", safe_to_retry=True,
        summary="List templates",
        params=(
            Param("cp_types", "query"), Param("cp_types_all", "query", type="boolean"),
            Param("exclude_multi_party", "query", type="boolean"),
            Param("include_archived", "query", type="boolean"),
            Param("tags", "query", type="array"), Param("tags_all", "query", type="array"),
        ),
    ),
    Operation(
        name="list_counterparties", method="GET", path="/api/v2.1/public/counter_parties/", version="v2.1",
        family="counterparties", operation_id="v2.1_public_counter_parties_list", safe_to_retry=True,
        summary="List counterparties", paginated=True,
        params=(*_PAGING, Param("filter__client_email_address", "query")),
    ),
)

OPERATIONS_BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}
