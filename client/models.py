"""Request bodies as pydantic models, so bad input is refused before anything is sent.

Only requests are modelled strictly (unknown fields are refused: a misspelt field is a bug);
answers are returned as SpotDraft sent them, since the live API may add fields the spec lacks.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ExternalPOCDetails(_Request):
    first_name: str
    last_name: str | None = None
    email: str


class OrganizationAddressV2_1(_Request):
    line_one: str
    line_two: str | None = None
    city: str
    state: str | None = None
    country: str | None = None
    country_iso_code: str
    zipcode: str | None = None
    email: str | None = None
    phone: str | None = None
    gst_number: str | None = None
    tax_id: str | None = None


class OrganizationDetailsV2_1(_Request):
    jurisdiction: str | None = None
    jurisdiction_iso_code: str | None = None
    address: OrganizationAddressV2_1 | None = None


class ExternalCounterPartyDetailsV2_1(_Request):
    is_individual: bool
    organization_type: str | None = None
    organization_name: str | None = None
    poc_details: ExternalPOCDetails
    organization_details: OrganizationDetailsV2_1 | None = None
    party_role_identifier: str | None = Field(None, min_length=1)


class ExternalCreateContractV2_1(_Request):
    contract_template_id: int
    contract_data: dict[str, Any]
    counter_party_details: list[ExternalCounterPartyDetailsV2_1] = Field(..., min_length=1)
    external_metadata: dict[str, Any] | None = None
    entity_reference_id: str | None = None
    workflow_config: dict[str, Any] | None = None
    send_to_counterparty_config: dict[str, Any] | None = None
    contract_name: str | None = None
    signatories: list[dict[str, Any]] | None = None
    is_embedded_contract: bool | None = None
