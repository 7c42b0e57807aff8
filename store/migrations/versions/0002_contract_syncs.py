"""contract_syncs: the per-contract sync's tickets (flows.sync_contract, issue 12)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 13:38:44.954425
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contract_syncs",
        sa.Column("contract_id", sa.Text(), nullable=False, comment="SpotDraft's integer contract id, as text"),
        sa.Column("requested", sa.Integer(), nullable=False,
                  comment="tickets issued: runs of sync_contract started for it"),
        sa.Column("covered", sa.Integer(), nullable=False,
                  comment="the highest ticket issued before a stored read began"),
        sa.Column("synced_at", sa.DateTime(), nullable=True, comment="when that read was stored"),
        sa.Column("flow_run_id", sa.Text(), nullable=True, comment="the run that stored it"),
        sa.PrimaryKeyConstraint("contract_id"),
    )


def downgrade() -> None:
    op.drop_table("contract_syncs")
