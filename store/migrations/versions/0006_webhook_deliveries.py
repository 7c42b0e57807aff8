"""webhook_deliveries: the webhook receiver's outbox (webhooks.receiver, webhooks.sync_worker)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:28:18.091346

A new table only: nothing existing changes, so any database at 0005 upgrades in place.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("event_id", sa.Text(), nullable=False,
                  comment="the Prefect event id, a UUID from the SHA-256 of the delivery's bytes"),
        sa.Column("contract_id", sa.Text(), nullable=False, comment="SpotDraft's integer contract id, as text"),
        sa.Column("event_name", sa.Text(), nullable=False, comment="spotdraft.contract.<activity>"),
        sa.Column("event", sa.Text(), nullable=False,
                  comment="the Prefect event as JSON, secrets masked; its occurred is set when it is sent"),
        sa.Column("ticket", sa.Integer(), nullable=False,
                  comment="the contract's ticket this delivery took (contract_syncs.requested)"),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("emitted_at", sa.DateTime(), nullable=True,
                  comment="when the Prefect API accepted the event; NULL: still to send"),
        sa.Column("settled_at", sa.DateTime(), nullable=True,
                  comment="when a stored read covered the ticket, or a failed sync run left it to the review; "
                          "NULL: still to sync"),
        sa.Column("outcome", sa.Text(), nullable=True, comment="synced, or failed (the flow run that failed)"),
        sa.PrimaryKeyConstraint("event_id"),
        comment="the webhook receiver's outbox: each delivery, its event until Prefect has it, its change until synced",
    )
    op.create_index("ix_webhook_deliveries_emitted_at", "webhook_deliveries", ["emitted_at"])
    op.create_index("ix_webhook_deliveries_settled_at", "webhook_deliveries", ["settled_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_settled_at", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_emitted_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
