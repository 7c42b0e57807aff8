"""A `prefect deploy` build step: the deployments' default credentials, as the UI's block picker wants them.

A deployment parameter that names a Block document by slug (`$ref: {block_document_slug: ...}`) works
at run time, but the UI's run form shows an empty picker for it ("Select a block...") although that
default is sent. The picker shows a reference by id. Ids differ per Prefect server, so
deployments/prefect.yaml asks this step for a reference to the named document by id when it is
deployed. (The reference cannot be written in the file itself: `prefect deploy` replaces a literal
`$ref` to a block document in prefect.yaml with the document's data, secret included.)

    build:
      - blocks.deploy_steps.credentials_reference:
          id: credentials
          name: spotdraft
    ...
    credentials: "{{ credentials.reference }}"      # becomes {"$ref": {"block_document_id": ...}}

Deploying therefore needs the document to exist (the README creates it first), and a document
deleted and created again needs `prefect deploy` again. Only the id is read: never the secret.

The archive's storage is optional: `storage_reference` gives a reference to the filesystem block named
for it, and `enabled` saying whether there is one; without it the archive deployments are made with
their schedule and trigger off (and no storage), so deploying never needs it.
"""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from blocks.credentials import SpotDraftCredentials


def credentials_reference(name: str) -> dict[str, object]:
    """A reference by id to the SpotDraftCredentials document `name` on the current Prefect server."""
    slug = SpotDraftCredentials.get_block_type_slug()
    with get_client(sync_client=True) as api:
        try:
            document = api.read_block_document_by_name(name, block_type_slug=slug, include_secrets=False)
        except ObjectNotFound:
            raise ValueError(
                f"no {SpotDraftCredentials.get_block_type_name()} document named {name!r} on this Prefect "
                f"server: create it first (Blocks > + > {SpotDraftCredentials.get_block_type_name()}, saved as "
                f"{name!r}; see the README's 'Deploying'), then deploy again"
            ) from None
    return {"reference": {"$ref": {"block_document_id": str(document.id)}}}


STORAGE_BLOCK_TYPES = ("remote-file-system", "local-file-system")  # the blocks flows.archive_contracts takes


def storage_reference(name: str) -> dict[str, object]:
    """A reference by id to the filesystem block `name` (Remote or Local File System), and `enabled`: whether
    it exists. Without it, `reference` is left out (prefect deploy then leaves the parameter out)."""
    with get_client(sync_client=True) as api:
        for slug in STORAGE_BLOCK_TYPES:
            try:
                document = api.read_block_document_by_name(name, block_type_slug=slug, include_secrets=False)
            except ObjectNotFound:
                continue
            return {"reference": {"$ref": {"block_document_id": str(document.id)}}, "enabled": True}
    print(f"No Local or Remote File System block named {name!r}: the archive deployments are made with their "
          "schedule and trigger off. Create it, then deploy again (README: 'Archive executed contracts').")
    return {"enabled": False}
