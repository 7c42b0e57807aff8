"""The document archive's rows: what is archived, what is being written, and each archive's watermark.

A file reaches its final name in the user's storage only with a row saying so: `archive_writes` gets a row
(the write's intent: final and temporary paths) before the first byte is written, the sha256 and size once
the temporary file is verified, and only then is the file renamed; one transaction then moves the row to
`archived_documents`. Whatever a kill interrupts, the file at a final name has its row in one of the two
tables, and an `archived_documents` row always has its file. The next run that archives the contract
finishes the write (renamed and verified: recorded) or undoes it (the temporary file removed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.dead_lettering import current_flow_run
from store.engine import database_now
from store.tables import archive_state, archive_writes, archived_documents, utcnow


@dataclass(frozen=True)
class DocumentKey:
    """One file of the archive: a version of a contract, in a format, in a storage."""

    storage: str
    contract_id: str
    version_id: str
    format: str

    def where(self, table: sa.Table) -> Any:
        return sa.and_(table.c.storage == self.storage, table.c.contract_id == self.contract_id,
                       table.c.version_id == self.version_id, table.c.format == self.format)

    def values(self) -> dict[str, str]:
        return {"storage": self.storage, "contract_id": self.contract_id, "version_id": self.version_id,
                "format": self.format}


def is_archived(engine: Engine, key: DocumentKey) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.literal(1)).where(key.where(archived_documents))).first() is not None


def holds_any(engine: Engine, storage: str) -> bool:
    """Whether anything was ever archived into this storage."""
    with engine.connect() as conn:
        query = sa.select(sa.literal(1)).where(archived_documents.c.storage == storage).limit(1)
        return conn.execute(query).first() is not None


def begin_write(engine: Engine, key: DocumentKey, *, path: str, temp_path: str, file_name: str | None,
                storage_block: str | None) -> None:
    """Record the intent to write `path` (through `temp_path`) before anything is written."""
    with engine.begin() as conn:
        conn.execute(archive_writes.delete().where(key.where(archive_writes)))
        conn.execute(archive_writes.insert().values(
            **key.values(), path=path, temp_path=temp_path, file_name=file_name, storage_block=storage_block,
            started_at=utcnow(), flow_run_id=current_flow_run()[1]))


def mark_verified(engine: Engine, key: DocumentKey, *, size: int, sha256: str, content_type: str | None,
                  verified: str) -> None:
    """The temporary file holds exactly what was downloaded: from here a rename completes the write."""
    with engine.begin() as conn:
        conn.execute(archive_writes.update().where(key.where(archive_writes)).values(
            bytes=size, sha256=sha256, content_type=content_type, verified=verified))


def complete(engine: Engine, key: DocumentKey, *, note: str = "") -> dict[str, Any]:
    """The file is at its final name: its write becomes its archived row, in one transaction. Returns the row."""
    with engine.begin() as conn:
        write = conn.execute(sa.select(archive_writes).where(key.where(archive_writes))).one()
        row = {**key.values(), "storage_block": write.storage_block, "path": write.path, "file_name": write.file_name,
               "bytes": write.bytes, "sha256": write.sha256, "content_type": write.content_type,
               "verified": (write.verified or "") + note, "archived_at": database_now(conn),
               "flow_run_id": current_flow_run()[1]}
        conn.execute(archive_writes.delete().where(key.where(archive_writes)))
        if conn.execute(sa.select(sa.literal(1)).where(key.where(archived_documents))).first() is None:
            conn.execute(archived_documents.insert().values(**row))
    return row


def abandon(engine: Engine, key: DocumentKey) -> None:
    """Forget a write whose temporary file was removed (or never written)."""
    with engine.begin() as conn:
        conn.execute(archive_writes.delete().where(key.where(archive_writes)))


def writes_left(engine: Engine, storage: str, contract_id: str | None = None) -> list[dict[str, Any]]:
    """Writes under way or left by a killed run, in this storage (for one contract, when given)."""
    query = sa.select(archive_writes).where(archive_writes.c.storage == storage)
    if contract_id is not None:
        query = query.where(archive_writes.c.contract_id == contract_id)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query.order_by(archive_writes.c.started_at))]


def key_of(row: dict[str, Any]) -> DocumentKey:
    return DocumentKey(row["storage"], row["contract_id"], row["version_id"], row["format"])


def watermark(engine: Engine, name: str) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(archive_state.c.watermark).where(archive_state.c.key == name)).scalar()


def move_watermark(engine: Engine, name: str, to: datetime) -> None:
    """The archive `name` has read everything changed before `to`; its next pass reads from there."""
    with engine.begin() as conn:
        moved = conn.execute(archive_state.update().where(archive_state.c.key == name)
                             .values(watermark=to, updated_at=utcnow())).rowcount
        if not moved:
            try:
                with conn.begin_nested():
                    conn.execute(archive_state.insert().values(key=name, watermark=to, updated_at=utcnow()))
            except sa.exc.IntegrityError:  # another run made the row meanwhile
                conn.execute(archive_state.update().where(archive_state.c.key == name)
                             .values(watermark=to, updated_at=utcnow()))
