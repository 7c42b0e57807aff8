"""Talking to a sandbox over HTTP as a SpotDraft client would: its paths, an authenticated client, a create body."""

from __future__ import annotations

import httpx

V21 = "/api/v2.1/public"
LIST = f"{V21}/contracts/"
UPLOADS = f"{V21}/workspace/files/uploads/"
HOOKS = f"{V21}/webhooks/"
HMAC_KEY = f"{V21}/webhooks/hmac_key/"


def api_client(sb, **headers: str) -> httpx.Client:
    """An httpx client on the sandbox (a `Sandbox` or a `SandboxProcess`) with its credentials and `headers`."""
    return httpx.Client(base_url=sb.base_url, headers={**sb.headers, **headers}, timeout=10)


def create_body(external_id: str | None = None, template_id: int = 100) -> dict:
    """A create_contract body the sandbox accepts (for template 100), tagged with `external_id` when given."""
    body = {
        "contract_template_id": template_id,
        "contract_data": {"effective_date": "2025-02-01"},
        "counter_party_details": [
            {
                "is_individual": False,
                "organization_name": "Acme Widgets Ltd.",
                "poc_details": {"first_name": "Ada", "last_name": "Lane", "email": "ada@acme.example"},
            }
        ],
    }
    if external_id is not None:
        body["external_metadata"] = {"id": external_id, "source": "crm"}
    return body
