"""Records for the create flow, and the review's good record."""

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
