"""Records for the create flow, and a template of the sandbox to create them from."""

from __future__ import annotations


def record(external_id: str, **overrides) -> dict:
    base = {
        "external_id": external_id,
        "contract_name": f"MSA {external_id}",
        "contract_data": {
            "customer_name": f"Customer {external_id}",
            "billing_currency": {"type": "USD", "value": 100},
        },
        "counter_party_details": [
            {
                "is_individual": False,
                "organization_name": f"Org {external_id}",
                "poc_details": {"first_name": "Avery", "email": f"{external_id}@example.com"},
            }
        ],
    }
    return {**base, **overrides}


def template_id(sandbox) -> int:
    """The id of one of the sandbox's templates."""
    return next(iter(sandbox.state.templates))
