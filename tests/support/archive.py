"""What the archive tests compare: the rows of archived_documents and archive_writes, the files in a storage
block (hidden temporary files included), and the sandbox's own files."""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa

from flows.archive_storage import ArchiveStorage
from store import archive_writes, archived_documents, engine_for


def archived(database_url: str) -> dict[tuple[str, str], dict[str, Any]]:
    """archived_documents by (contract id, version id)."""
    with engine_for(database_url).connect() as conn:
        rows = conn.execute(sa.select(archived_documents)).all()
    return {(r.contract_id, r.version_id): dict(r._mapping) for r in rows}


def writes(database_url: str) -> list[dict[str, Any]]:
    with engine_for(database_url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(archive_writes))]


def stored(storage) -> dict[str, str]:
    """Every file under the block's base path (relative path -> sha256), temporary ones included."""
    target = ArchiveStorage(storage)
    target.fs.invalidate_cache()
    if not target.fs.exists(target.base):
        return {}
    found = {}
    for full in target.fs.find(target.base):
        relative = full.removeprefix(target.base.split("://", 1)[-1]).lstrip("/")
        digest = hashlib.sha256()
        with target.fs.open(full, "rb") as source:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
        found[relative] = digest.hexdigest()
    return found


def executed_documents(sb) -> dict[str, dict[str, Any]]:
    """The sandbox's current PDF of each executed contract, by composite id."""
    return {c["composite_id"]: sb.document(c["id"]) for c in sb.snapshot() if c["contract_status"] == "EXECUTED"}


def storage_gets(sb) -> list[Any]:
    """Requests for document files at the signed store."""
    return [r for r in sb.request_log("GET") if r.path.startswith("/_storage/documents/")]


def link_posts(sb) -> list[Any]:
    return [r for r in sb.request_log("POST") if r.path.endswith("/download_link")]
