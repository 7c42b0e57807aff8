"""Tasks for contract templates.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "get_template",
    "get_template_metadata",
    "list_templates",
    "update_template",
]


@spotdraft_task("list_templates")
def list_templates(
    credentials: SpotDraftCredentials,
    cp_types: str | None = None,
    cp_types_all: bool | None = None,
    exclude_multi_party: bool | None = None,
    include_archived: bool | None = None,
    tags: list[str] | None = None,
    tags_all: list[str] | None = None,
) -> dict[str, Any]:
    """Templates available to the workspace (answer: `items`)."""
    return call_operation(
        credentials,
        "list_templates",
        query={
            "cp_types": cp_types,
            "cp_types_all": cp_types_all,
            "exclude_multi_party": exclude_multi_party,
            "include_archived": include_archived,
            "tags": tags,
            "tags_all": tags_all,
        },
    )


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
