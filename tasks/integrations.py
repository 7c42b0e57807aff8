"""Tasks for native integrations.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
Hand-written tasks are in tasks/_handwritten/integrations.py and re-exported here.
"""

from __future__ import annotations

from tasks._handwritten.integrations import (
    queue_native_integration_contracts,
)

__all__ = [
    "queue_native_integration_contracts",
]
