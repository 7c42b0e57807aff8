"""archived_documents, archive_writes, archive_state: the document archive (flows.archive_contracts)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 05:20:52.998878

New tables only: nothing existing changes, so any database at 0004 upgrades in place.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The key of one archived (or being archived) document: which storage, which contract, version and format.
_KEY = ("storage", "contract_id", "version_id", "format")


def upgrade() -> None:
    op.create_table(
        "archived_documents",
        sa.Column("storage", sa.Text(), nullable=False,
                  comment="where: the storage block's base path (file:///... or s3://bucket/prefix), secrets masked"),
        sa.Column("contract_id", sa.Text(), nullable=False, comment="SpotDraft's composite id (T-123, H-123)"),
        sa.Column("version_id", sa.Text(), nullable=False, comment="the contract's current_version_id when archived"),
        sa.Column("format", sa.Text(), nullable=False, comment="PDF, DOCX or DOCX_WITH_FALLBACK_TO_PDF, as asked for"),
        sa.Column("storage_block", sa.Text(), nullable=True,
                  comment="the Prefect block document (type/name) when known"),
        sa.Column("path", sa.Text(), nullable=False, comment="the file's path under the storage's base path"),
        sa.Column("file_name", sa.Text(), nullable=True,
                  comment="SpotDraft's file name, as given (the path holds it sanitised)"),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False, comment="hex, computed while the file streamed"),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("verified", sa.Text(), nullable=False, comment="what was read back from the storage and matched"),
        sa.Column("archived_at", sa.DateTime(), nullable=False),
        sa.Column("flow_run_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(*_KEY),
    )
    op.create_table(
        "archive_writes",
        sa.Column("storage", sa.Text(), nullable=False),
        sa.Column("contract_id", sa.Text(), nullable=False),
        sa.Column("version_id", sa.Text(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("storage_block", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False, comment="the final path, under the storage's base path"),
        sa.Column("temp_path", sa.Text(), nullable=False, comment="where the file is written before its rename"),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True,
                  comment="set once the temporary file is verified; NULL before"),
        sa.Column("sha256", sa.Text(), nullable=True, comment="set once the temporary file is verified; NULL before"),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("verified", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("flow_run_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(*_KEY),
        comment="writes under way: a file in the archive never lacks its row in one of the two tables",
    )
    op.create_table(
        "archive_state",
        sa.Column("key", sa.Text(), nullable=False, comment="the archive: storage, format and statuses"),
        sa.Column("watermark", sa.DateTime(), nullable=True,
                  comment="start of the last complete pass; the next reads from here"),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("archive_state")
    op.drop_table("archive_writes")
    op.drop_table("archived_documents")
