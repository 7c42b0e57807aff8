"""Baseline: the schema of the last release before Alembic (a5da849), made or adopted.

Revision ID: 0001
Revises:
Create Date: 2026-11-30

An empty database gets every table. A database made before Alembic has the tables and no version; it
is adopted in place, every row kept: each missing table is created, each missing column added (all of
them nullable: releases only ever added nullable columns, which the old `_add_missing_columns` added
too), each missing index created, and, where the database keeps comments (PostgreSQL), a column's
comment set where it differs (columns that `_add_missing_columns` added have none). A table that lacks
a NOT NULL column was not made by this project: the upgrade stops there and, being one transaction,
changes nothing. Alembic then writes the version, so no database needs stamping by hand.

The tables are frozen here as they were, not imported from store: later revisions change those.
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

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

TABLES = list(metadata.tables.values())  # in the order above; no foreign keys between them


def upgrade() -> None:
    if context.is_offline_mode():  # SQL printed for a database we cannot look at: assume it is empty
        for table in TABLES:
            _create(table)
        return
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for table in TABLES:
        if table.name in existing:
            _adopt(table, inspector)
        else:
            _create(table)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone: that would drop every table and every synced row")


def _create(table: sa.Table) -> None:
    op.create_table(table.name, *table.columns)
    for index in table.indexes:
        op.create_index(index.name, table.name, [column.name for column in index.columns])


def _adopt(table: sa.Table, inspector: sa.Inspector) -> None:
    """Bring a table made before Alembic to the baseline, keeping its rows."""
    present = {column["name"]: column for column in inspector.get_columns(table.name)}
    keeps_comments = op.get_bind().dialect.supports_comments
    for column in table.columns:
        found = present.get(column.name)
        if found is None:
            if not column.nullable:
                raise RuntimeError(f"table {table.name} has no column {column.name}, which every release had: "
                                   "it was not made by prefect-spotdraft, so it is left as it is")
            op.add_column(table.name, column)
        elif keeps_comments and found.get("comment") != column.comment:
            op.alter_column(table.name, column.name, comment=column.comment, existing_comment=found.get("comment"),
                            existing_type=column.type, existing_nullable=column.nullable)
    indexed = {index["name"] for index in inspector.get_indexes(table.name)}
    for index in table.indexes:
        if index.name not in indexed:
            op.create_index(index.name, table.name, [column.name for column in index.columns])
