"""Template tasks written by hand; tasks.templates re-exports them."""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from tasks._base import call_operation, spotdraft_task


# Hand-written: the docstring says where the templates are in the answer (`items`, not `results`).
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
