"""analytics_<table> for every table of SpotDraft's analytics catalog, and analytics_snapshots (flows.sync_analytics)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 06:00:00.000000

The columns are the catalog's as this revision was written (store/analytics_tables.py is generated from
the spec and may move on: a later catalog needs a later revision). No primary keys: the catalog's keys
are nullable; the key, where the catalog names one, is indexed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TYPES = {"INT64": sa.BigInteger, "FLOAT64": sa.Double, "STRING": sa.Text, "DATE": sa.Date,
         "TIMESTAMP": lambda: sa.DateTime(timezone=True), "BOOL": sa.Boolean}

# table -> (its key, "column TYPE, ..."), frozen here as the catalog stood.
TABLES = {
    "contracts": ("contract_id", """
        contract_id INT64, workspace_id INT64, contract_kind STRING, contract_status STRING, contract_type_id
        INT64, contract_type STRING, created_date DATE, execution_date DATE, expiry_date DATE, term_length
        STRING, counterparty_name STRING, entity_name STRING, redlining_starts TIMESTAMP, sign_starts TIMESTAMP,
        sign_email_sent TIMESTAMP, draft_time FLOAT64, redlining_time FLOAT64, client_redlining_time FLOAT64,
        counterparty_redlining_time FLOAT64, on_hold_time FLOAT64, sign_nego_time FLOAT64, sign_time FLOAT64,
        sign_approvals FLOAT64, signature_collection FLOAT64, execution_time FLOAT64, time_for_reviews FLOAT64,
        reviews_requested INT64, pending_reviews INT64, client_rounds INT64, cp_rounds INT64, turns INT64,
        on_hold_rounds INT64, sign_nego_rounds INT64, contract_ageing_days INT64, sign_pending_with STRING,
        total_time_to_sign_counterparty_hours FLOAT64, total_time_to_sign_company_hours FLOAT64,
        pending_counterparty_signatories INT64, counterparties_signatory_signed INT64, company_signatory_signed
        INT64, pending_company_signatories INT64, frozen_workflow_id INT64, workflow_title_at_creation STRING,
        workflow_id INT64, current_workflow_title STRING
    """),
    "users": ("id", """
        id INT64, last_activity_date TIMESTAMP, invite_accepted BOOL, first_login_date TIMESTAMP, is_active
        BOOL, is_deleted BOOL, created TIMESTAMP, designation STRING, created_by_workspace_id INT64, teams
        STRING, seniority_level STRING, department STRING, app_usage_purposes STRING, licensed_user BOOL
    """),
    "workflows_setup": (None, """
        workspace_id INT64, frozen_workflow_id INT64, workflow_id INT64, title STRING, status STRING, created
        TIMESTAMP, last_published TIMESTAMP, unpublished_changes_present BOOL, cp_contract_download_permission
        STRING
    """),
    "approvals_setup": (None, """
        approval_id STRING, approval_ver STRING, id INT64, approval_name STRING, approval_order INT64,
        frozen_workflow_id INT64, workflow_id INT64, workflow_name STRING, status STRING, type STRING,
        conditional_approval BOOL, workspace_id INT64, role_id INT64, skip_approval_restriction BOOL,
        download_contract_restriction BOOL, send_to_cp_restriction BOOL
    """),
    "contract_types_setup": ("contract_type_id", """
        workspace_id INT64, contract_type_id INT64, contract_type STRING
    """),
    "counterparties_setup": (None, """
        workspace_id INT64, counterparty_name STRING, status STRING
    """),
    "entities_setup": (None, """
        workspace_id INT64, entity_name STRING, id INT64, created TIMESTAMP, modified TIMESTAMP, is_primary
        BOOL, is_deleted BOOL, jurisdiction_id INT64, organization_id INT64, organization_type_id INT64
    """),
    "signatures_setups": (None, """
        default_signature_id INT64, type STRING, name STRING, sign_order INT64, created TIMESTAMP, workspace_id
        INT64, workflow_id INT64, conditional_signatory BOOL, conditional_routing BOOL
    """),
    "contract_lifecycle": ("contract_id", """
        contract_id INT64, workspace_id INT64, created_date DATE, contract_kind STRING, contract_type_id INT64,
        contract_status STRING, contract_name STRING, contract_type STRING, template_name STRING, execution_date
        DATE, term_length STRING, expiry_date DATE, post_execution_status STRING, execution_status STRING,
        counterparty_name STRING, entity_name STRING, legal_owner STRING, business_owner STRING,
        business_owner_teams STRING, created_by_user_id INT64, workflow_title_at_creation STRING,
        current_workflow_title STRING, workflow_id INT64
    """),
    "contract_tat_details": (None, """
        contract_id INT64, workspace_id INT64, contract_name STRING, contract_kind STRING, contract_type STRING,
        template_name STRING, contract_status STRING, created_at TIMESTAMP, redlining_started_at TIMESTAMP,
        signing_started_at TIMESTAMP, executed_at TIMESTAMP, draft_time_hours FLOAT64, redlining_time_hours
        FLOAT64, client_redlining_time_hours FLOAT64, counterparty_redlining_time_hours FLOAT64,
        on_hold_time_hours FLOAT64, sign_negotiation_time_hours FLOAT64, sign_time_hours FLOAT64,
        sign_approval_time_hours FLOAT64, signature_collection_time_hours FLOAT64, total_execution_time_hours
        FLOAT64, review_time_hours FLOAT64, reviews_requested_count INT64, pending_reviews_count INT64,
        client_redline_rounds INT64, counterparty_redline_rounds INT64, total_negotiation_turns INT64,
        on_hold_rounds INT64, sign_negotiation_rounds INT64, is_tat_pending INT64, counterparty_name STRING,
        entity_name STRING, legal_owner STRING, business_owner STRING, business_owner_teams STRING,
        workflow_title_at_creation STRING, current_workflow_title STRING, workflow_id INT64
    """),
    "contract_sign": (None, """
        contract_id INT64, workspace_id INT64, contract_type STRING, template_name STRING, counterparty_name
        STRING, contract_name STRING, created_date DATE, execution_date DATE, legal_owner STRING, business_owner
        STRING, workflow_status STRING, signing_started_at TIMESTAMP, first_sign_request_sent_at TIMESTAMP,
        pending_counterparty_signatories_count INT64, counterparty_signatories_signed_count INT64,
        counterparty_total_signing_time_hours FLOAT64, counterparty_avg_signing_time_hours FLOAT64,
        pending_company_signatories_count INT64, company_signatories_signed_count INT64,
        company_total_signing_time_hours FLOAT64, company_avg_signing_time_hours FLOAT64, signing_pending_with
        STRING
    """),
    "contract_approvals": ("approval_instance_id", """
        contract_id INT64, workspace_id INT64, approval_instance_id STRING, approval_step_name STRING,
        approval_step_category STRING, contract_type STRING, contract_kind STRING, contract_name STRING,
        contract_status STRING, contract_created_date DATE, contract_created_month DATE, contract_created_by
        STRING, approval_status STRING, last_requested_by STRING, last_approved_by STRING, first_requested_date
        DATE, last_requested_date DATE, completed_date DATE, first_response_time_hours FLOAT64,
        total_approval_time_hours FLOAT64, total_approval_time_hours_excl_skips FLOAT64,
        approval_instances_count INT64, approval_instances_count_excl_skips INT64, active_approvals_count INT64,
        pending_with STRING, pending_since_days INT64, counterparty_name STRING, entity_name STRING, legal_owner
        STRING, business_owner STRING, business_owner_teams STRING, workflow_title_at_creation STRING,
        current_workflow_title STRING, workflow_id INT64
    """),
    "contracts_review": ("review_id", """
        contract_id INT64, workspace_id INT64, review_id STRING, review_step_name STRING, review_instance_number
        INT64, contract_created_date DATE, contract_type STRING, contract_kind STRING, review_assignment_type
        STRING, review_status STRING, workflow_status STRING, requested_by STRING, requested_at TIMESTAMP,
        assigned_at TIMESTAMP, started_at TIMESTAMP, completed_at TIMESTAMP, first_response_time_hours FLOAT64,
        time_since_first_response_hours FLOAT64, total_review_time_hours FLOAT64, on_hold_time_hours FLOAT64,
        assigned_by STRING, reviewer_name STRING, reviewer_user_id INT64, created_by_user_id INT64,
        reviewer_team STRING, requested_month DATE, completed_month DATE, legal_owner STRING, business_owner
        STRING, entity_name STRING, counterparty_name STRING, pending_since_days INT64,
        workflow_title_at_creation STRING, current_workflow_title STRING, workflow_id INT64
    """),
    "signatories": ("signatory_id", """
        signatory_id INT64, contract_id INT64, workspace_id INT64, user_id INT64, signatory_name STRING,
        signatory_party STRING, signing_order INT64, sign_status STRING, created_at TIMESTAMP,
        signing_started_at TIMESTAMP, sign_request_sent_at TIMESTAMP, signed_at TIMESTAMP, time_to_sign_hours
        FLOAT64, contract_kind STRING, contract_type STRING, template_name STRING, contract_name STRING,
        contract_created_date DATE, execution_date DATE, counterparty_name STRING, legal_owner STRING,
        business_owner STRING, workflow_status STRING, signature_service STRING, workflow_title_at_creation
        STRING, current_workflow_title STRING, workflow_id INT64
    """),
    "contract_level_metrics": ("event_id", """
        contract_id INT64, workspace_id INT64, event_id STRING, event_sequence STRING, event_category STRING,
        event_subcategory_1 STRING, event_subcategory_2 STRING, status STRING, started_at TIMESTAMP, ended_at
        TIMESTAMP, ended_at_current TIMESTAMP, time_spent_seconds INT64, party_type STRING, review_filter
        STRING, approval_filter STRING, sign_filter STRING
    """),
    "contract_level_metrics_lc": ("event_id", """
        contract_id INT64, workspace_id INT64, event_id STRING, event_sequence STRING, event_category STRING,
        event_subcategory_1 STRING, event_subcategory_2 STRING, status STRING, started_at TIMESTAMP, ended_at
        TIMESTAMP, ended_at_current TIMESTAMP, time_spent_seconds INT64, party_type STRING
    """),
    "legal_intake": ("intake_id", """
        intake_id INT64, workspace_id INT64, title STRING, created_at TIMESTAMP, status STRING, priority STRING,
        due_date DATE, completed_at TIMESTAMP, requested_by STRING, assignee STRING, workflow_name STRING,
        linked_entity_type STRING, linked_entity_id STRING, pending_with STRING, completion_time_days FLOAT64,
        completion_time_hours FLOAT64, pending_since_hours FLOAT64, pending_since_days FLOAT64
    """),
}


def _columns(text: str) -> list[sa.Column]:
    return [sa.Column(name, TYPES[kind](), nullable=True) for name, kind in (c.split() for c in text.split(","))]


def upgrade() -> None:
    op.create_table(
        "analytics_snapshots",
        sa.Column("table_name", sa.Text(), nullable=False,
                  comment="the analytics catalog's table, stored in analytics_<table_name>"),
        sa.Column("taken_at", sa.DateTime(), nullable=False, comment="when the read of this snapshot began (UTC)"),
        sa.Column("swapped_at", sa.DateTime(), nullable=False,
                  comment="when it replaced the previous snapshot (UTC)"),
        sa.Column("row_count", sa.BigInteger(), nullable=False, comment="rows in analytics_<table_name> now"),
        sa.Column("pages", sa.Integer(), nullable=False, comment="answers it was read in"),
        sa.Column("paging", sa.Text(), nullable=False,
                  comment="how it was read whole: keyset on its key, or ordered"),
        sa.Column("user_scoped", sa.Boolean(), nullable=True,
                  comment="as asked of the API; NULL: the API's default (scoped)"),
        sa.Column("flow_run_id", sa.Text(), nullable=True, comment="the sync_analytics run that took it"),
        sa.PrimaryKeyConstraint("table_name"),
    )
    for name, (key, columns) in TABLES.items():
        op.create_table(f"analytics_{name}", *_columns(columns))
        if key:
            op.create_index(f"ix_analytics_{name}_{key}", f"analytics_{name}", [key])


def downgrade() -> None:
    for name in reversed(list(TABLES)):
        op.drop_table(f"analytics_{name}")
    op.drop_table("analytics_snapshots")
