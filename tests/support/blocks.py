"""A Block class described as Prefect registers it (its schema, capabilities, type), to compare two releases."""

from __future__ import annotations

import json


# ------------------------------------------------------------------------------ the credentials Block
def block_description(block: type) -> dict:
    """What Prefect registers for a Block class: its schema (checksum, fields, capabilities) and block type."""
    import uuid

    schema = block._to_block_schema(block_type_id=uuid.UUID(int=0))
    block_type = block._to_block_type()
    return json.loads(json.dumps({
        "checksum": schema.checksum, "capabilities": sorted(schema.capabilities), "fields": schema.fields,
        "version": schema.version, "slug": block_type.slug, "name": block_type.name,
        "code_example": block_type.code_example, "description": block_type.description,
        "logo_url": block_type.logo_url, "documentation_url": block_type.documentation_url,
    }, sort_keys=True, default=str))
