"""contracts.read_at: the newer of two reads of one contract wins (a full pass against sync_contract)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 14:11:19.013892
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: ADD COLUMN on both databases, no table rebuilt; existing rows read as "older".
    op.add_column("contracts", sa.Column(
        "read_at", sa.DateTime(), nullable=True,
        comment="when the read this row came from began; an older read never overwrites it (upsert)"))


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch_op:
        batch_op.drop_column("read_at")
