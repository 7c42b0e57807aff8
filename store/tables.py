"""The tables the flows write, declared once with SQLAlchemy Core (the database's schema comes from them).

Changing a table here needs an Alembic revision too (store/migrations/versions/; see store/migrate.py):
databases are upgraded by those revisions, never by create_all.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()


contracts = sa.Table(
    "contracts", metadata,
    sa.Column("id", sa.Text, primary_key=True, comment="SpotDraft's contract id, as text"),
    sa.Column("composite_id", sa.Text, comment="T-<id> or H-<id>, as the per-contract endpoints take it"),
    sa.Column("contract_name", sa.Text),
    sa.Column("contract_status", sa.Text),
    sa.Column("contract_type_id", sa.Integer),
    sa.Column("contract_type_name", sa.Text),
    sa.Column("counter_party_name", sa.Text),
    sa.Column("reference_id", sa.Text),
    sa.Column("created", sa.Text),
    sa.Column("key_pointers", sa.JSON, comment="as received; NULL when enrichment failed (see dead_letters)"),
    sa.Column("record", sa.JSON, nullable=False, comment="the list answer's record, as received"),
    sa.Column("synced_at", sa.DateTime, nullable=False),
    sa.Column("deleted_at", sa.DateTime, comment="set by a full refresh when the contract is gone upstream"),
    sa.Column("seen_in_pass", sa.Text, comment="id of the last sync pass that read this contract"),
    sa.Column("read_at", sa.DateTime, comment="when the read this row came from began; an older read never "
              "overwrites it (upsert)"),
    # A full pass and a per-contract sync may write one contract at the same time: the read begun later
    # wins, whichever commits last. (Our clocks, not SpotDraft's: the list answer carries no update time.)
    info={"newer_read_wins": "read_at"},
)

counterparties = sa.Table(
    "counterparties", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("is_individual", sa.Boolean),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("synced_at", sa.DateTime, nullable=False),
)

templates = sa.Table(
    "templates", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("contract_type_id", sa.Integer),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("synced_at", sa.DateTime, nullable=False),
)

sync_state = sa.Table(
    "sync_state", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("watermark", sa.DateTime, comment="start of the last complete pass; next pass reads from here"),
    sa.Column("pass_id", sa.Text, comment="the pass under way; NULL when none is"),
    sa.Column("pass_started_at", sa.DateTime),
    sa.Column("pass_since", sa.DateTime, comment="the pass's last_updated_on filter; NULL = everything"),
    sa.Column("pass_full", sa.Boolean, nullable=False, default=False),
    sa.Column("next_page", sa.Integer, nullable=False, default=1),
    sa.Column("page_total", sa.Integer, comment="total_results seen on the last committed page"),
    sa.Column("page_size", sa.Integer, comment="the pass's page size, kept when it is resumed"),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

created_contracts = sa.Table(
    "created_contracts", metadata,
    sa.Column("external_id", sa.Text, primary_key=True, comment="the upstream record's id"),
    sa.Column("contract_id", sa.Text, nullable=False, comment="SpotDraft's contract id"),
    sa.Column("template_id", sa.Integer),
    sa.Column("contract_name", sa.Text),
    sa.Column("outcome", sa.Text, nullable=False, comment="created, or found (it existed already)"),
    sa.Column("sent_at", sa.DateTime, comment="when it was sent to its counterparties; NULL: not (yet) sent"),
    sa.Column("record", sa.JSON),
    sa.Column("flow_run_id", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

record_leases = sa.Table(
    "record_leases", metadata,
    sa.Column("key", sa.Text, primary_key=True, comment="what is being written: create:<external id>"),
    sa.Column("holder", sa.Text, nullable=False, comment="the flow run (or process) writing it now"),
    sa.Column("expires_at", sa.DateTime, nullable=False, comment="when another run may take it over"),
)

contract_syncs = sa.Table(
    "contract_syncs", metadata,
    sa.Column("contract_id", sa.Text, primary_key=True, comment="SpotDraft's integer contract id, as text"),
    sa.Column("requested", sa.Integer, nullable=False, default=0,
              comment="tickets issued: runs of sync_contract started for it"),
    sa.Column("covered", sa.Integer, nullable=False, default=0,
              comment="the highest ticket issued before a stored read began"),
    sa.Column("synced_at", sa.DateTime, comment="when that read was stored"),
    sa.Column("flow_run_id", sa.Text, comment="the run that stored it"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries", metadata,
    sa.Column("event_id", sa.Text, primary_key=True,
              comment="the Prefect event id, a UUID from the SHA-256 of the delivery's bytes"),
    sa.Column("contract_id", sa.Text, nullable=False, comment="SpotDraft's integer contract id, as text"),
    sa.Column("event_name", sa.Text, nullable=False, comment="spotdraft.contract.<activity>"),
    sa.Column("event", sa.Text, nullable=False,
              comment="the Prefect event as JSON, secrets masked; its occurred is set when it is sent"),
    sa.Column("ticket", sa.Integer, nullable=False,
              comment="the contract's ticket this delivery took (contract_syncs.requested)"),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("emitted_at", sa.DateTime, comment="when the Prefect API accepted the event; NULL: still to send"),
    sa.Column("settled_at", sa.DateTime,
              comment="when a stored read covered the ticket, or a failed sync run left it to the review; "
                      "NULL: still to sync"),
    sa.Column("outcome", sa.Text, comment="synced, or failed (the flow run that failed)"),
    sa.Index("ix_webhook_deliveries_emitted_at", "emitted_at"),
    sa.Index("ix_webhook_deliveries_settled_at", "settled_at"),
    # The receiver writes a row and the contract's ticket in one transaction before it answers 2xx.
    comment="the webhook receiver's outbox: each delivery, its event until Prefect has it, its change until synced",
)

dead_letters = sa.Table(
    "dead_letters", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("operation", sa.Text, nullable=False, comment="catalog operation (task) name"),
    sa.Column("target", sa.Text, comment="what it was about: a composite id, an external id, a page"),
    sa.Column("inputs", sa.JSON, nullable=False, comment="the operation's inputs, no secret"),
    sa.Column("error_class", sa.Text, nullable=False),
    sa.Column("error_message", sa.Text, nullable=False),
    sa.Column("advice", sa.Text),
    sa.Column("context", sa.JSON, comment="host, method, path, status, request id, workspace, ... body"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("flow_name", sa.Text),
    sa.Column("flow_run_id", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.Text, nullable=False, default="pending", comment="pending, replayed or discarded"),
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("outcome", sa.JSON, comment="the replay's result or its new error"),
    sa.Column("claimed_by", sa.Text, comment="the review run offering this letter now; one review at a time"),
    sa.Column("claimed_until", sa.DateTime, comment="when that claim lapses if the review never answers"),
    sa.Index("ix_dead_letters_status", "status"),
)

# -- the document archive (flows.archive_contracts): what is in the user's storage, what is being written there

archived_documents = sa.Table(
    "archived_documents", metadata,
    sa.Column("storage", sa.Text, primary_key=True,
              comment="where: the storage block's base path (file:///... or s3://bucket/prefix), secrets masked"),
    sa.Column("contract_id", sa.Text, primary_key=True, comment="SpotDraft's composite id (T-123, H-123)"),
    sa.Column("version_id", sa.Text, primary_key=True, comment="the contract's current_version_id when archived"),
    sa.Column("format", sa.Text, primary_key=True, comment="PDF, DOCX or DOCX_WITH_FALLBACK_TO_PDF, as asked for"),
    sa.Column("storage_block", sa.Text, comment="the Prefect block document (type/name) when known"),
    sa.Column("path", sa.Text, nullable=False, comment="the file's path under the storage's base path"),
    sa.Column("file_name", sa.Text, comment="SpotDraft's file name, as given (the path holds it sanitised)"),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False, comment="hex, computed while the file streamed"),
    sa.Column("content_type", sa.Text),
    sa.Column("verified", sa.Text, nullable=False, comment="what was read back from the storage and matched"),
    sa.Column("archived_at", sa.DateTime, nullable=False),
    sa.Column("flow_run_id", sa.Text),
)

archive_writes = sa.Table(
    "archive_writes", metadata,
    sa.Column("storage", sa.Text, primary_key=True),
    sa.Column("contract_id", sa.Text, primary_key=True),
    sa.Column("version_id", sa.Text, primary_key=True),
    sa.Column("format", sa.Text, primary_key=True),
    sa.Column("storage_block", sa.Text),
    sa.Column("path", sa.Text, nullable=False, comment="the final path, under the storage's base path"),
    sa.Column("temp_path", sa.Text, nullable=False, comment="where the file is written before its rename"),
    sa.Column("file_name", sa.Text),
    sa.Column("bytes", sa.BigInteger, comment="set once the temporary file is verified; NULL before"),
    sa.Column("sha256", sa.Text, comment="set once the temporary file is verified; NULL before"),
    sa.Column("content_type", sa.Text),
    sa.Column("verified", sa.Text),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("flow_run_id", sa.Text),
    # A row here is a write under way, or one a killed run left: the next run that archives the contract
    # completes it (renamed and recorded) or removes its temporary file and starts again.
    comment="writes under way: a file in the archive never lacks its row in one of the two tables",
)

archive_state = sa.Table(
    "archive_state", metadata,
    sa.Column("key", sa.Text, primary_key=True, comment="the archive: storage, format and statuses"),
    sa.Column("watermark", sa.DateTime, comment="start of the last complete pass; the next reads from here"),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


analytics_snapshots = sa.Table(
    "analytics_snapshots", metadata,
    sa.Column("table_name", sa.Text, primary_key=True,
              comment="the analytics catalog's table, stored in analytics_<table_name>"),
    sa.Column("taken_at", sa.DateTime, nullable=False, comment="when the read of this snapshot began (UTC)"),
    sa.Column("swapped_at", sa.DateTime, nullable=False, comment="when it replaced the previous snapshot (UTC)"),
    sa.Column("row_count", sa.BigInteger, nullable=False, comment="rows in analytics_<table_name> now"),
    sa.Column("pages", sa.Integer, nullable=False, comment="answers it was read in"),
    sa.Column("paging", sa.Text, nullable=False, comment="how it was read whole: keyset on its key, or ordered"),
    sa.Column("user_scoped", sa.Boolean, comment="as asked of the API; NULL: the API's default (scoped)"),
    sa.Column("flow_run_id", sa.Text, comment="the sync_analytics run that took it"),
)


def utcnow() -> datetime:
    """Naive UTC: stored the same way in SQLite (no time zones) and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)
