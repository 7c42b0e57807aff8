"""Tasks for contract templates.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
Hand-written tasks are in tasks/_handwritten/templates.py and re-exported here.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task
from tasks._handwritten.templates import (
    list_templates,
)

__all__ = [
    "get_template",
    "get_template_metadata",
    "list_templates",
    "update_template",
]


@spotdraft_task("get_template")
def get_template(credentials: SpotDraftCredentials, template_id: int) -> dict[str, Any]:
    """One template."""
    return call_operation(credentials, "get_template", path_params={"template_id": template_id})


@spotdraft_task("update_template")
def update_template(
    credentials: SpotDraftCredentials,
    template_id: int,
    body: m.PatchedTemplateUpdateRequest | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Change a template's settings."""
    return call_operation(credentials, "update_template", path_params={"template_id": template_id}, body=body)


@spotdraft_task("get_template_metadata")
def get_template_metadata(credentials: SpotDraftCredentials, template_id: str) -> dict[str, Any]:
    """The fields of a template."""
    return call_operation(credentials, "get_template_metadata", path_params={"template_id": template_id})
