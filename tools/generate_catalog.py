"""Generate the operation catalog, the request models, the task modules and the task docs from the spec.

    make generate                                       # rewrite what changed (spec: ../shared/)
    make generate SPEC=path/to/spotdraft-openapi.yml    # another copy of the spec
    python -m tools.generate_catalog --check            # exit 1, naming them, if any file would change

Writes client/models.py, client/catalog.py, tasks/__init__.py, tasks/<family>.py, docs/tasks.md and
the task index of README.md (between its tasks:begin/tasks:end markers); each says it is generated.

The spec (SpotDraft's published OpenAPI document) is read here only; the generated modules are
committed and the runtime never needs it. Nothing of the spec's prose is copied: every name,
summary and docstring below is ours. What the spec decides: methods, exact paths, parameters
(name, place, type, pattern), request schemas and the kind of answer. What we decide, in the
tables below: the task name, its family (the tasks/ module), its summary, and for every POST
whether it is safe to repeat.

A task that must do more than call its operation is written by hand in tasks/_handwritten/<family>.py
(see that package's docstring): the generator reads those modules, generates no task for their
operations and re-exports theirs from tasks/<family>.py, so public names do not depend on who wrote a task.

Output is deterministic and formatted with ruff, so on a clean tree `make generate` changes nothing
and `--check` is a conformance test.
"""

from __future__ import annotations

import argparse
import ast
import json
import keyword
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = ROOT.parent / "shared" / "spotdraft-openapi.yml"
METHODS = ("get", "post", "put", "patch", "delete")
AUTH_HEADERS = {"client-id", "client-secret", "user-email"}  # the client sends these itself

# -------------------------------------------------------------------------------------------------
# Which operations are current: every v2.1 operation, plus the v1 operations whose family has no
# v2 or v2.1 equivalent. (v1 and v2 operations that v2.1 supersedes are left out on purpose.)
# -------------------------------------------------------------------------------------------------
CURRENT_V1 = {
    "v1_public_auth_users_partial_update",
    "v1_public_auth_users_destroy",
    "v1_public_legal_intake_retrieve",
    "v1_public_legal_intake_create",
    "v1_public_legal_intake_retrieve_2",
    "v1_public_legal_intake_partial_update",
    "v1_public_legal_intake_destroy",
    "v1_public_native_integration_solution_create",
    "v1_public_obligations_types_list",
    "v1_public_obligations_types_retrieve_by_id",
    "v1_public_view_email_retrieve",
    "v1_public_webhook_sample_create",
}

# -------------------------------------------------------------------------------------------------
# operationId -> (task name, family, summary). Names say what the task does; summaries are ours.
# -------------------------------------------------------------------------------------------------
NAMES: dict[str, tuple[str, str, str]] = {
    # analytics
    "v2.1_public_analytics_query_create": (
        "run_analytics_query",
        "analytics",
        "Run a read-only SQL query on the workspace's analytics tables",
    ),
    # users and roles
    "v2.1_public_auth_roles_retrieve": ("list_roles", "users", "List the workspace's active roles"),
    "v2.1_public_auth_roles_members_create": ("add_role_members", "users", "Add users to a role"),
    "v2.1_public_auth_roles_members_destroy": (
        "remove_role_members",
        "users",
        "Remove users from a role (the role stays)",
    ),
    "v2.1_public_auth_users_retrieve": ("list_users", "users", "One page of workspace users with their roles"),
    "v2.1_public_auth_users_create": ("invite_user", "users", "Invite a user to the workspace and give them roles"),
    "v2.1_public_contracts_authorized_users_retrieve": (
        "list_contract_authorized_users",
        "users",
        "Users allowed to see one contract",
    ),
    "v1_public_auth_users_partial_update": ("update_user", "users", "Change a user's roles or details"),
    "v1_public_auth_users_destroy": ("deactivate_user", "users", "Deactivate a workspace user"),
    # clickwrap
    "v2.1_public_clickwrap_agreements_preview_create": (
        "preview_clickwrap_agreement",
        "clickwrap",
        "Render a clickwrap agreement with sample data",
    ),
    "v2.1_public_clickwrap_retrieve": ("get_clickwrap", "clickwrap", "One clickwrap and its agreements"),
    "v2.1_public_clickwrap_consent_status_create": (
        "get_clickwrap_consent_status",
        "clickwrap",
        "Whether a user has accepted a clickwrap's agreements",
    ),
    "v2.1_public_clickwrap_execute_create": (
        "execute_clickwrap",
        "clickwrap",
        "Record a user's acceptance of a clickwrap as a contract",
    ),
    # contract types
    "v2.1_public_contract_types_retrieve": ("list_contract_types", "contract_types", "Contract types of the workspace"),
    "v2.1_public_contract_types_access_control_create": (
        "get_contract_type_access_control",
        "contract_types",
        "Who may use a contract type, for the given users",
    ),
    "v2.1_public_contract_types_entities_retrieve": (
        "list_contract_type_entities",
        "contract_types",
        "Entities that may contract under a contract type",
    ),
    "v2.1_public_contract_types_intake_form_questionnaire_retrieve": (
        "get_contract_type_intake_questionnaire",
        "contract_types",
        "The intake form questions of a contract type",
    ),
    # contracts
    "v2.1_public_contracts_retrieve": ("list_contracts", "contracts", "One page of contracts, filtered"),
    "v2.1_public_contracts_create": ("create_contract", "contracts", "Create a contract from a template"),
    "v2.1_public_contracts_by_external_metadata_retrieve": (
        "get_contracts_by_external_metadata",
        "contracts",
        "Contracts created with an external record id",
    ),
    "v2.1_public_contracts_embedded_contracts_counter_party_retrieve": (
        "get_counterparty_embedded_url",
        "contracts",
        "A short-lived signing URL to embed for a counterparty",
    ),
    "v2.1_public_contracts_executed_contracts_create": (
        "upload_executed_contract",
        "contracts",
        "Upload an already signed contract (PDF)",
    ),
    "v2.1_public_contracts_preview_create": (
        "preview_contract",
        "contracts",
        "Render a template with data to a PDF, creating nothing",
    ),
    "v2.1_public_contracts_upload_review_contracts_create": (
        "upload_contract_for_review",
        "contracts",
        "Upload a third-party contract for legal review",
    ),
    "v2.1_public_contracts_upload_sign_contracts_create": (
        "upload_contract_for_signature",
        "contracts",
        "Upload a contract (PDF) and send it for signature",
    ),
    "v2.1_public_contracts_content_retrieve": (
        "get_contract_content",
        "contracts",
        "The text of a contract, whole or in segments",
    ),
    "v2.1_public_contracts_content_scanned_retrieve": (
        "get_scanned_contract_content",
        "contracts",
        "The OCR text of a scanned contract",
    ),
    "v2.1_public_contracts_download_create": (
        "download_contract",
        "contracts",
        "Download a contract's current file to a local path",
    ),
    "v2.1_public_contracts_download_link_create": (
        "get_contract_download_link",
        "contracts",
        "A temporary URL to a contract's current file",
    ),
    "v2.1_public_contracts_intake_form_response_partial_update": (
        "update_contract_intake_response",
        "contracts",
        "Change answers of a contract's intake form",
    ),
    "v2.1_public_contracts_mark_for_execution_create": (
        "mark_contract_for_execution",
        "contracts",
        "Move a contract to signing",
    ),
    "v2.1_public_contracts_send_to_counterparties_create": (
        "send_contract_to_counterparties",
        "contracts",
        "Email a contract to its counterparties",
    ),
    "v2.1_public_contracts_signatories_resend_email_create": (
        "resend_signatory_email",
        "contracts",
        "Email a signatory their signing request again",
    ),
    "v2.1_public_contracts_status_retrieve": ("get_contract_status", "contracts", "Status of one contract"),
    "v2.1_public_contracts_status_void_create": ("void_contract", "contracts", "Void a contract"),
    "v2.1_public_contracts_unmark_for_execution_create": (
        "unmark_contract_for_execution",
        "contracts",
        "Take a contract out of signing",
    ),
    "v2.1_public_contracts_business_user_partial_update": (
        "update_contract_business_user",
        "contracts",
        "Change the business owner of a contract",
    ),
    "v2.1_public_contracts_contract_data_partial_update": (
        "update_contract_data",
        "contracts",
        "Change the template field values of a contract",
    ),
    "v2.1_public_contracts_contract_relation_create": (
        "create_contract_relations",
        "contracts",
        "Link a contract to related contracts",
    ),
    "v2.1_public_contracts_contract_version_create": (
        "upload_contract_version",
        "contracts",
        "Upload a new version of a contract's document",
    ),
    "v2.1_public_contracts_download_docx_create": (
        "download_contract_docx",
        "contracts",
        "Download a contract as DOCX to a local path",
    ),
    "v2.1_public_contracts_process_metrics_retrieve": (
        "get_contract_process_metrics",
        "contracts",
        "Timing metrics of a contract's workflow",
    ),
    "v2.1_public_contracts_questionnaire_responses_retrieve": (
        "get_contract_questionnaire_responses",
        "contracts",
        "Answers given to a contract's questionnaire",
    ),
    "v2.1_public_contracts_related_contracts_retrieve": (
        "list_related_contracts",
        "contracts",
        "One page of contracts linked to a contract",
    ),
    "v2.1_public_contracts_review_request_create": (
        "request_contract_review",
        "contracts",
        "Open a legal review task on a contract",
    ),
    "v2.1_public_supported_documents_create": (
        "upload_supporting_document",
        "contracts",
        "Attach a supporting document to a contract",
    ),
    # approvals
    "v2.1_public_contracts_approvals_retrieve": (
        "list_contract_approvals",
        "approvals",
        "Approvals of a contract and their state",
    ),
    "v2.1_public_contracts_approvals_create": (
        "create_contract_approvals",
        "approvals",
        "Add ad-hoc approvals to a contract and send them",
    ),
    # comments (activity log)
    "v2.1_public_contracts_comments_retrieve": (
        "list_contract_comments",
        "comments",
        "One page of comments on a contract's activity log",
    ),
    "v2.1_public_contracts_comments_create": (
        "add_contract_comment",
        "comments",
        "Post a comment on a contract's activity log",
    ),
    # invitations
    "v2.1_public_contracts_invite_create": (
        "invite_to_contract",
        "invitations",
        "Give users or roles access to a contract",
    ),
    "v2.1_public_contracts_uninvite_create": (
        "uninvite_from_contract",
        "invitations",
        "Take a user's or role's access to a contract away",
    ),
    "v2.1_public_contracts_uninvite_all_create": (
        "uninvite_all_from_contract",
        "invitations",
        "Take every invited user's and role's access away",
    ),
    # contract metadata (key pointers): values and definitions
    "v2.1_public_contracts_key_pointers_retrieve": (
        "get_contract_key_pointers",
        "contract_metadata",
        "Key pointer values of one contract",
    ),
    "v2.1_public_contracts_key_pointers_bulk_create": (
        "bulk_update_contract_key_pointers",
        "contract_metadata",
        "Set several key pointer values of a contract",
    ),
    "v2.1_public_contracts_key_pointers_partial_update": (
        "update_contract_key_pointer",
        "contract_metadata",
        "Set one key pointer value of a contract",
    ),
    "v2.1_public_key_pointers_retrieve": (
        "list_key_pointer_definitions",
        "contract_metadata",
        "Key pointer definitions of a contract type",
    ),
    "v2.1_public_key_pointers_field_name_mapping_create": (
        "get_key_pointer_field_mapping",
        "contract_metadata",
        "Which key pointers template fields map to",
    ),
    # external metadata
    "v2.1_public_contracts_external_metadata_retrieve": (
        "get_contract_external_metadata",
        "external_metadata",
        "The external record a contract is linked to",
    ),
    "v2.1_public_contracts_external_metadata_create": (
        "set_contract_external_metadata",
        "external_metadata",
        "Link a contract to an external record (create or replace)",
    ),
    # notes
    "v2.1_public_contracts_notes_retrieve": ("get_contract_notes", "notes", "Notes on a contract"),
    "v2.1_public_contracts_notes_update": ("update_contract_note", "notes", "Replace the text of a contract note"),
    # obligations
    "v2.1_public_contracts_obligations_list": ("list_contract_obligations", "obligations", "Obligations of a contract"),
    "v2.1_public_contracts_obligations_create": (
        "create_contract_obligation",
        "obligations",
        "Add an obligation to a contract",
    ),
    "v2.1_public_contracts_obligations_bulk_create": (
        "bulk_create_contract_obligations",
        "obligations",
        "Add several obligations to a contract",
    ),
    "v2.1_public_contracts_obligations_bulk_partial_update": (
        "bulk_update_contract_obligations",
        "obligations",
        "Change several obligations of a contract",
    ),
    "v2.1_public_contracts_obligations_retrieve_by_id": (
        "get_contract_obligation",
        "obligations",
        "One obligation of a contract",
    ),
    "v2.1_public_contracts_obligations_partial_update": (
        "update_contract_obligation",
        "obligations",
        "Change one obligation of a contract",
    ),
    "v2.1_public_contracts_obligations_destroy": (
        "delete_contract_obligation",
        "obligations",
        "Delete one obligation of a contract",
    ),
    "v1_public_obligations_types_list": ("list_obligation_types", "obligations", "Active obligation types"),
    "v1_public_obligations_types_retrieve_by_id": ("get_obligation_type", "obligations", "One obligation type"),
    # recipients
    "v2.1_public_contracts_recipients_retrieve": (
        "list_contract_recipients",
        "recipients",
        "Recipients of a contract and where each stands",
    ),
    "v2.1_public_contracts_recipients_recipient_link_retrieve": (
        "get_recipient_link",
        "recipients",
        "The action link (sign, approve...) of one recipient",
    ),
    # user tasks
    "v2.1_public_contracts_tasks_bulk_create": (
        "bulk_create_contract_tasks",
        "user_tasks",
        "Create several user tasks on a contract",
    ),
    "v2.1_public_user_tasks_create": ("create_user_task", "user_tasks", "Create a user task"),
    # counterparties
    "v2.1_public_counter_parties_list": ("list_counterparties", "counterparties", "One page of counterparties"),
    "v2.1_public_counter_parties_create": ("create_counterparty", "counterparties", "Create a counterparty"),
    "v2.1_public_counter_parties_retrieve_by_id": ("get_counterparty", "counterparties", "One counterparty"),
    "v2.1_public_counter_parties_partial_update": ("update_counterparty", "counterparties", "Change a counterparty"),
    "v2.1_public_counter_parties_addresses_retrieve": (
        "list_counterparty_addresses",
        "counterparties",
        "One page of a counterparty's addresses",
    ),
    "v2.1_public_counter_parties_addresses_create": (
        "create_counterparty_address",
        "counterparties",
        "Add an address to a counterparty",
    ),
    "v2.1_public_counter_parties_addresses_partial_update": (
        "update_counterparty_address",
        "counterparties",
        "Change one address of a counterparty",
    ),
    "v2.1_public_counter_parties_contacts_retrieve": (
        "list_counterparty_contacts",
        "counterparties",
        "One page of a counterparty's contacts",
    ),
    "v2.1_public_counter_parties_contacts_create": (
        "create_counterparty_contact",
        "counterparties",
        "Add a contact to a counterparty",
    ),
    "v2.1_public_counter_parties_contacts_bulk_partial_update": (
        "bulk_update_counterparty_contacts",
        "counterparties",
        "Change several contacts of a counterparty",
    ),
    "v2.1_public_counter_parties_contacts_partial_update": (
        "update_counterparty_contact",
        "counterparties",
        "Change one contact of a counterparty",
    ),
    "v2.1_public_counter_parties_contacts_destroy": (
        "delete_counterparty_contact",
        "counterparties",
        "Delete one contact of a counterparty",
    ),
    # facets
    "v2.1_public_facets_retrieve": ("list_contract_facets", "facets", "Search facets available for contracts"),
    "v2.1_public_facets_options_retrieve": ("get_facet_options", "facets", "Values one search facet can take"),
    # organizations
    "v2.1_public_organizations_entities_retrieve": (
        "list_organization_entities",
        "organizations",
        "Legal entities of the workspace's organization",
    ),
    "v2.1_public_organizations_entities_create": (
        "create_organization_entity",
        "organizations",
        "Add a legal entity to the organization",
    ),
    "v2.1_public_organizations_types_retrieve": (
        "list_organization_types",
        "organizations",
        "Organization types, optionally for one jurisdiction",
    ),
    # sidebar
    "v2.1_public_sidebar_files_create": ("upload_sidebar_file", "sidebar", "Upload a file to Sidebar (multipart)"),
    "v2.1_public_sidebar_query_create": ("run_sidebar_query", "sidebar", "Ask Sidebar a question"),
    # templates
    "v2.1_public_templates_list": ("list_templates", "templates", "Templates available to the workspace"),
    "v2.1_public_templates_retrieve_by_id": ("get_template", "templates", "One template"),
    "v2.1_public_templates_partial_update": ("update_template", "templates", "Change a template's settings"),
    "v2.1_public_templates_metadata_retrieve": ("get_template_metadata", "templates", "The fields of a template"),
    # webhooks
    "v2.1_public_webhooks_create": ("create_webhook", "webhooks", "Register a webhook endpoint"),
    "v2.1_public_webhooks_hmac_key_get": (
        "get_webhook_hmac_key",
        "webhooks",
        "The key that signs webhook deliveries (returned as a secret)",
    ),
    "v2.1_public_webhooks_destroy": ("delete_webhook", "webhooks", "Remove a webhook endpoint"),
    "v2.1_public_contracts_webhooks_re_trigger_latest_create": (
        "retrigger_contract_webhooks",
        "webhooks",
        "Deliver the latest webhook of contracts again",
    ),
    "v1_public_webhook_sample_create": (
        "send_sample_webhook",
        "webhooks",
        "The shape of a webhook delivery (documentation route)",
    ),
    # workspace
    "v2.1_public_workspace_feature_flags_create": (
        "check_workspace_feature_flags",
        "workspace",
        "Whether feature flags are on for the workspace",
    ),
    "v2.1_public_workspace_files_uploads_create": (
        "start_workspace_file_uploads",
        "workspace",
        "Reserve workspace files and get their upload URLs",
    ),
    "v2.1_public_workspace_files_retrieve": (
        "get_workspace_file_download_url",
        "workspace",
        "A signed URL to download a workspace file",
    ),
    "v2.1_public_workspace_tags_create": ("create_workspace_tags", "workspace", "Create workspace tags"),
    # legal intake
    "v1_public_legal_intake_retrieve": ("list_legal_intakes", "legal_intake", "One page of legal intake requests"),
    "v1_public_legal_intake_create": ("create_legal_intake", "legal_intake", "Open a legal intake request"),
    "v1_public_legal_intake_retrieve_2": ("get_legal_intake", "legal_intake", "One legal intake request"),
    "v1_public_legal_intake_partial_update": ("update_legal_intake", "legal_intake", "Change a legal intake request"),
    "v1_public_legal_intake_destroy": ("delete_legal_intake", "legal_intake", "Delete a legal intake request"),
    # integrations and emails
    "v1_public_native_integration_solution_create": (
        "queue_native_integration_contracts",
        "integrations",
        "Queue contract creation for a native integration (HTTP Basic auth)",
    ),
    "v1_public_view_email_retrieve": ("get_rendered_email", "emails", "The rendered HTML of a sent email"),
}

# -------------------------------------------------------------------------------------------------
# safe_to_retry. GET, and PUT/PATCH/DELETE of a known id, are safe. A POST is not safe unless it is
# a read in POST clothing; the judgement for every POST, with the reason:
#
#   task                                 safe   why
#   run_analytics_query                  yes    read-only SQL; nothing is written
#   add_role_members                     no     changes membership; a replay after a lost answer may 409
#   invite_user                          no     creates a user and sends an invitation email
#   preview_clickwrap_agreement          yes    renders only
#   get_clickwrap_consent_status         yes    a look-up
#   execute_clickwrap                    no     records an acceptance (creates a contract)
#   get_contract_type_access_control     yes    a look-up of permissions
#   create_contract                      no     creates; reconciled by external id in client.writes
#   create_contract_approvals            no     creates approvals and notifies approvers
#   upload_executed_contract             no     creates a contract
#   preview_contract                     yes    renders a PDF, creates nothing
#   upload_contract_for_review           no     creates a contract
#   upload_contract_for_signature        no     creates a contract and emails signatories
#   retrigger_contract_webhooks          no     delivers webhooks again; a replay duplicates deliveries
#   download_contract                    yes    returns the file
#   get_contract_download_link           yes    returns a URL
#   bulk_update_contract_key_pointers    yes    sets values to what the body says; same body, same state
#   mark_contract_for_execution          no     a state transition; a replay may fail on the new state
#   send_contract_to_counterparties      no     sends emails
#   resend_signatory_email               no     sends an email
#   void_contract                        no     a state transition
#   unmark_contract_for_execution        no     a state transition
#   add_contract_comment                 no     creates a comment
#   create_contract_relations            no     creates links
#   upload_contract_version              no     creates a version
#   download_contract_docx               yes    returns the file
#   set_contract_external_metadata       yes    create-or-replace keyed by the contract; same body, same state
#   invite_to_contract                   no     grants access and notifies
#   create_contract_obligation           no     creates
#   bulk_create_contract_obligations     no     creates
#   request_contract_review              no     creates a task and notifies
#   bulk_create_contract_tasks           no     creates
#   uninvite_from_contract               no     changes access (kept strict: not a read)
#   uninvite_all_from_contract           no     changes access (kept strict: not a read)
#   create_counterparty                  no     creates
#   create_counterparty_address          no     creates
#   create_counterparty_contact          no     creates
#   get_key_pointer_field_mapping        yes    a look-up of the mapping
#   create_organization_entity           no     creates
#   upload_sidebar_file                  no     creates a file
#   run_sidebar_query                    yes    answers a question; nothing is kept that a replay would double
#   upload_supporting_document           no     creates a document
#   create_user_task                     no     creates
#   create_webhook                       no     creates a subscription
#   check_workspace_feature_flags        yes    a look-up
#   start_workspace_file_uploads         no     reserves new file ids
#   create_workspace_tags                no     creates
#   create_legal_intake                  no     creates
#   queue_native_integration_contracts   no     queues contract creation
#   send_sample_webhook                  no     not a read (a documentation route that answers 404 live)
# -------------------------------------------------------------------------------------------------
SAFE_POSTS = {
    "run_analytics_query",
    "preview_clickwrap_agreement",
    "get_clickwrap_consent_status",
    "get_contract_type_access_control",
    "preview_contract",
    "download_contract",
    "get_contract_download_link",
    "bulk_update_contract_key_pointers",
    "download_contract_docx",
    "set_contract_external_metadata",
    "get_key_pointer_field_mapping",
    "run_sidebar_query",
    "check_workspace_feature_flags",
}

# Downloads whose success answer is the file itself (the spec marks it `format: binary`).
# Uploads: the spec takes the file base64-encoded in a JSON field, except Sidebar, which takes a
# multipart file part. Each upload task reads a local path (or takes bytes) and fills these fields.
BASE64_UPLOADS: dict[str, tuple[str, str]] = {  # task -> (file name field, base64 content field)
    "upload_executed_contract": ("file_name", "file_content"),
    "upload_contract_for_review": ("file_name", "file_base64"),
    "upload_contract_for_signature": ("file_name", "file_base64"),
    "upload_contract_version": ("document_name", "document_base_64"),
    "upload_supporting_document": ("file_name", "file_base64"),
}
MULTIPART_UPLOADS: dict[str, str] = {"upload_sidebar_file": "file"}  # task -> the file part's name

# Path parameters whose spec entry has no pattern but whose form is documented elsewhere.
COMPOSITE_ID_PATTERN = r"^[HT\-0-9]+$"
DERIVED_PATTERNS = {"integer": r"^[0-9]+$", "uuid": r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$"}

# The module docstring of each family.
FAMILIES: dict[str, str] = {
    "analytics": "Tasks for the analytics SQL endpoint.",
    "approvals": "Tasks for contract approvals.",
    "clickwrap": "Tasks for clickwraps (recorded acceptance of agreements).",
    "comments": "Tasks for comments on a contract's activity log.",
    "contract_metadata": "Tasks for key pointers: the metadata values of contracts and their definitions.",
    "contract_types": "Tasks for contract types.",
    "contracts": "Tasks for contracts: list, create (reconciled by external id), status, files, lifecycle.",
    "counterparties": "Tasks for counterparties, their addresses and contacts.",
    "emails": "Tasks for emails SpotDraft sent.",
    "external_metadata": "Tasks for the external record a contract is linked to.",
    "facets": "Tasks for contract search facets.",
    "integrations": "Tasks for native integrations.",
    "invitations": "Tasks for who is invited to a contract.",
    "legal_intake": "Tasks for legal intake requests.",
    "notes": "Tasks for contract notes.",
    "obligations": "Tasks for contract obligations and obligation types.",
    "organizations": "Tasks for the workspace's organization: entities and organization types.",
    "recipients": "Tasks for contract recipients.",
    "sidebar": "Tasks for Sidebar.",
    "templates": "Tasks for contract templates.",
    "user_tasks": "Tasks for SpotDraft user tasks (to-dos assigned to people).",
    "users": "Tasks for workspace users and roles.",
    "webhooks": "Tasks for webhooks.",
    "workspace": "Tasks for workspace settings, files and tags.",
}

# =================================================================================================
# Hand-written tasks
# =================================================================================================
HANDWRITTEN_DIR = ROOT / "tasks" / "_handwritten"


@dataclass(frozen=True)
class HandWritten:
    """A task written by hand: its operation's name and where it is."""

    name: str
    family: str  # the module's name, which must be its operation's family
    where: str  # path:line, for messages


def read_handwritten(directory: Path = HANDWRITTEN_DIR) -> dict[str, HandWritten]:
    """Every `@spotdraft_task("<operation>")` function in the hand-written modules, by operation name.

    The modules are parsed, never imported: importing them needs the catalog, which may be the very
    file being regenerated (or broken).
    """
    found: dict[str, HandWritten] = {}
    for path in sorted(directory.glob("*.py")):
        if path.name == "__init__.py":
            continue
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if path.stem not in FAMILIES:
            raise SystemExit(f"{rel}: hand-written tasks go in a module named after their family, one of FAMILIES")
        for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            recognised = [op for op in map(decorated_operation, node.decorator_list) if op is not None]
            if not recognised and not node.name.startswith("_"):
                # An aliased decorator (`spotdraft_task as op`) would hide a task from the generator,
                # which would then write its own under the same name: refuse rather than guess.
                raise SystemExit(
                    f"{rel}:{node.lineno}: {node.name!r} is not decorated @spotdraft_task(\"<operation>\") "
                    "under that name; hand-written modules hold tasks (a helper's name starts with _)"
                )
            for decorator in node.decorator_list:
                operation = decorated_operation(decorator)
                if operation is None:
                    continue
                where = f"{rel}:{node.lineno}"
                if operation != node.name:
                    raise SystemExit(
                        f"{where}: hand-written task {node.name!r} is decorated for {operation!r}; "
                        "a task is named like its operation"
                    )
                if operation in found:
                    raise SystemExit(f"{where}: {operation!r} is already written by hand at {found[operation].where}")
                found[operation] = HandWritten(operation, path.stem, where)
    return found


def decorated_operation(decorator: ast.expr) -> str | None:
    """The operation of `@spotdraft_task("<operation>")` (or `@_base.spotdraft_task(...)`); None for others."""
    if not isinstance(decorator, ast.Call):
        return None
    func = decorator.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if called != "spotdraft_task":
        return None
    args = decorator.args
    if len(args) != 1 or not isinstance(args[0], ast.Constant) or not isinstance(args[0].value, str):
        raise SystemExit(f"line {decorator.lineno}: spotdraft_task takes the operation's name as one string literal")
    return args[0].value


def check_handwritten(ops: list[OpInfo], handwritten: dict[str, HandWritten]) -> None:
    """Each hand-written task is for an operation of the catalog, in its family's module."""
    families = {op.name: op.family for op in ops}
    for task in handwritten.values():
        if task.name not in families:
            raise SystemExit(
                f"{task.where}: hand-written task {task.name!r} is for an operation the catalog does not have "
                "(no operationId in NAMES gives that name)"
            )
        if families[task.name] != task.family:
            raise SystemExit(
                f"{task.where}: hand-written task {task.name!r} belongs in tasks/_handwritten/"
                f"{families[task.name]}.py, its operation's family"
            )


# =================================================================================================
# Reading the spec
# =================================================================================================
@dataclass
class ParamInfo:
    name: str  # wire name
    location: str
    required: bool
    type: str
    pattern: str | None
    enum: tuple[Any, ...] = ()
    items_type: str | None = None


@dataclass
class OpInfo:
    name: str
    method: str
    path: str
    version: str
    family: str
    operation_id: str
    safe_to_retry: bool
    summary: str
    params: list[ParamInfo]
    body_schema: dict[str, Any] | None
    body_model: str | None = None
    body_kind: str | None = None
    body_required: bool = False
    response_kind: str = "json"
    paginated: bool = False
    returns: str = "dict[str, Any]"
    upload: tuple[str, ...] | None = None  # ("base64", name field, content field) or ("multipart", part)


def version_of(path: str) -> str:
    match = re.match(r"^/api/(v[0-9.]+)/", path)
    if match is None:
        raise SystemExit(f"{path}: not an /api/<version>/ path")
    return match.group(1)


def load_spec(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def current_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    """(method, path, operation, path-level parameters) of every current operation, in spec order."""
    out = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            if version_of(path) == "v2.1" or op["operationId"] in CURRENT_V1:
                out.append((method.upper(), path, op, item.get("parameters", [])))
    return out


def resolve(spec: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        seen += 1
        if seen > 20:
            raise ValueError("reference loop")
    return schema or {}


def param_type(schema: dict[str, Any]) -> str:
    if schema.get("format") == "uuid":
        return "string"
    return schema.get("type", "string")


def read_params(spec, path: str, op: dict[str, Any], common: list[dict[str, Any]]) -> list[ParamInfo]:
    in_path = set(re.findall(r"{([^}]+)}", path))
    params: dict[tuple[str, str], ParamInfo] = {}
    for raw in [*common, *op.get("parameters", [])]:
        p = resolve(spec, raw) if "$ref" in raw else raw
        loc, name = p["in"], p["name"]
        if loc == "header" and name.lower() in AUTH_HEADERS:
            continue
        if loc == "cookie":
            continue
        if loc == "path" and name not in in_path:
            continue  # some entries declare path parameters their path does not have
        schema = resolve(spec, p.get("schema", {}))
        ptype = param_type(schema)
        pattern = schema.get("pattern")
        if loc == "path" and pattern is None:
            if name == "composite_id":
                pattern = COMPOSITE_ID_PATTERN
            elif schema.get("format") == "uuid":
                pattern = DERIVED_PATTERNS["uuid"]
            elif ptype == "integer":
                pattern = DERIVED_PATTERNS["integer"]
        items = resolve(spec, schema.get("items")) if ptype == "array" else {}
        params[(loc, name)] = ParamInfo(
            name=name,
            location=loc,
            required=bool(p.get("required")) or loc == "path",
            type=ptype,
            pattern=pattern,
            enum=tuple(schema.get("enum") or ()),
            items_type=items.get("type") if items else None,
        )
    missing = in_path - {n for (loc, n) in params if loc == "path"}
    if missing:
        raise ValueError(f"{path}: path parameters not declared: {sorted(missing)}")
    order = {"path": 0, "query": 1, "header": 2}
    return sorted(params.values(), key=lambda p: (order[p.location], p.name))


def success_content(op: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    for code in sorted(op.get("responses", {})):
        if str(code).startswith("2"):
            content = op["responses"][code].get("content") or {}
            for ctype, media in content.items():
                return str(code), {"content_type": ctype, "schema": media.get("schema")}
            return str(code), None
    return None, None


# =================================================================================================
# Request models
# =================================================================================================
BASEMODEL_ATTRS = {
    "construct",
    "copy",
    "dict",
    "json",
    "parse_obj",
    "parse_raw",
    "parse_file",
    "schema",
    "schema_json",
    "validate",
    "update_forward_refs",
    "fields",
    "from_orm",
}


def class_name(component: str) -> str:
    return component.replace("Serializer", "")


def camel(text: str) -> str:
    parts = re.split(r"[^0-9A-Za-z]+", text)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return out if out and not out[0].isdigit() else f"M{out}"


def python_name(wire: str) -> str:
    name = re.sub(r"[^0-9A-Za-z_]", "_", wire)
    if not name or name[0].isdigit():
        name = f"f_{name}"
    name = name.lstrip("_") or "field"
    if keyword.iskeyword(name) or name in BASEMODEL_ATTRS or name.startswith("model_"):
        name += "_"
    return name


def stripped(schema: Any) -> Any:
    """The schema without prose, for comparing two inline schemas by structure."""
    if isinstance(schema, dict):
        return {k: stripped(v) for k, v in sorted(schema.items()) if k not in ("description", "example", "examples")}
    if isinstance(schema, list):
        return [stripped(v) for v in schema]
    return schema


@dataclass
class ModelClass:
    name: str
    lines: list[str]
    users: set[str] = field(default_factory=set)  # task names whose body uses it (roots only)


class ModelWriter:
    """Turns request schemas into pydantic source: nested classes first, each class once."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.schemas = spec["components"]["schemas"]
        self.classes: dict[str, ModelClass] = {}  # in definition order
        self.aliases: dict[str, str] = {}  # Literal type aliases for enum components
        self.keys: dict[str, str] = {}  # class name -> structure key
        self.in_progress: set[str] = set()
        self.forward: bool = False

    # -- types ---------------------------------------------------------------------------------------
    def annotation(self, schema: dict[str, Any] | None, owner: str, field_name: str) -> tuple[str, bool]:
        """(annotation, nullable) of a schema used as a field type."""
        schema = schema or {}
        if "$ref" in schema:
            ref = schema["$ref"].rsplit("/", 1)[-1]
            return self.component(ref), bool(self.schemas[ref].get("nullable"))
        nullable = bool(schema.get("nullable"))
        for combo in ("allOf", "oneOf", "anyOf"):
            if combo in schema:
                parts = [p for p in schema[combo] if p.get("type") != "null"]
                nullable = nullable or len(parts) < len(schema[combo])
                if combo == "allOf" and len(parts) > 1:
                    merged = self.merge_all_of(parts)
                    return self.annotation(merged, owner, field_name)[0], nullable
                types = []
                for p in parts:
                    t, n = self.annotation(p, owner, field_name)
                    nullable = nullable or n
                    if t not in types:
                        types.append(t)
                if not types:
                    return "Any", nullable
                return " | ".join(types), nullable
        if "const" in schema:
            return f"Literal[{schema['const']!r}]", nullable
        if "enum" in schema:
            values = [v for v in schema["enum"] if v is not None]
            nullable = nullable or len(values) < len(schema["enum"])
            return f"Literal[{', '.join(repr(v) for v in values)}]", nullable
        kind = schema.get("type")
        if kind == "string":
            return "str", nullable
        if kind == "integer":
            return "int", nullable
        if kind == "number":
            return "int | float", nullable
        if kind == "boolean":
            return "bool", nullable
        if kind == "array":
            inner, inner_null = self.annotation(schema.get("items"), owner, field_name + "_item")
            if inner_null and inner != "Any":
                inner = f"{inner} | None"
            return f"list[{inner}]", nullable
        if kind == "object" or "properties" in schema:
            if not schema.get("properties"):
                extra = schema.get("additionalProperties")
                if isinstance(extra, dict) and extra:
                    value, _ = self.annotation(extra, owner, field_name + "_value")
                    return f"dict[str, {value}]", nullable
                return "dict[str, Any]", nullable
            name = self.inline_name(schema, owner, field_name)
            return self.define(name, schema), nullable
        return "Any", nullable

    def merge_all_of(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in parts:
            part = resolve(self.spec, part)
            merged["properties"].update(part.get("properties") or {})
            merged["required"] += [r for r in part.get("required") or [] if r not in merged["required"]]
        return merged

    def inline_name(self, schema: dict[str, Any], owner: str, field_name: str) -> str:
        key = json.dumps(stripped(schema), sort_keys=True)
        for existing, existing_key in self.keys.items():  # the same inline schema twice: one class
            if existing_key == key:
                return existing
        title = camel(schema["title"]) if schema.get("title") else None
        for candidate in (title, owner + camel(field_name)):
            if not candidate:
                continue
            taken = self.keys.get(candidate) or (
                "component" if candidate in {class_name(n) for n in self.schemas} else None
            )
            if taken is None or taken == key:
                self.keys[candidate] = key
                return candidate
        n = 2
        while f"{owner}{camel(field_name)}{n}" in self.keys:
            n += 1
        name = f"{owner}{camel(field_name)}{n}"
        self.keys[name] = key
        return name

    def component(self, ref: str) -> str:
        schema = self.schemas[ref]
        name = class_name(ref)
        if "enum" in schema and schema.get("type") in ("string", "integer", None):
            if name not in self.aliases:
                values = [v for v in schema["enum"] if v is not None]
                self.aliases[name] = f"Literal[{', '.join(repr(v) for v in values)}]"
            return name
        if schema.get("type") == "object" or "properties" in schema or "allOf" in schema:
            if not schema.get("properties") and "allOf" not in schema:
                return "dict[str, Any]"
            self.keys.setdefault(name, "component")
            return self.define(name, schema)
        return self.annotation(schema, name, "value")[0]

    # -- classes ---------------------------------------------------------------------------------------
    def define(self, name: str, schema: dict[str, Any], doc: str | None = None) -> str:
        if name in self.classes:
            return name
        if name in self.in_progress:
            self.forward = True
            return name
        self.in_progress.add(name)
        if "allOf" in schema and "properties" not in schema:
            schema = self.merge_all_of(schema["allOf"])
        props = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        lines = []
        for wire in [*props, *[r for r in required if r not in props]]:
            lines.append(self.field_line(name, wire, props.get(wire, {}), wire in required))
        extra = schema.get("additionalProperties")
        config = ""
        if extra not in (None, False) and props:
            config = '    model_config = ConfigDict(extra="allow", populate_by_name=True)\n'
        body = [f"class {name}(_Request):"]
        body.append(f'    """{doc or "Part of a request body."}"""')
        if config:
            body.append("")
            body.append(config.rstrip("\n"))
        if lines:
            body.append("")
            body += lines
        self.in_progress.discard(name)
        self.classes[name] = ModelClass(name, body)
        return name

    def field_line(self, owner: str, wire: str, schema: dict[str, Any], required: bool) -> str:
        annotation, nullable = self.annotation(schema, owner, wire)
        if nullable and annotation != "Any":
            annotation = f"{annotation} | None"
        target = resolve(self.spec, schema) if "$ref" in schema else schema
        constraints = {}
        kind = target.get("type")
        if kind == "string" or kind is None:
            for key, arg in (("minLength", "min_length"), ("maxLength", "max_length"), ("pattern", "pattern")):
                if key in target:
                    constraints[arg] = target[key]
        if kind == "array":
            for key, arg in (("minItems", "min_length"), ("maxItems", "max_length")):
                if key in target:
                    constraints[arg] = target[key]
        if kind in ("integer", "number"):
            for key, arg in (("minimum", "ge"), ("maximum", "le")):
                if key in target:
                    constraints[arg] = target[key]
        py = python_name(wire)
        args = []
        if py != wire:
            args.append(f"alias={wire!r}")
        args += [f"{k}={v!r}" for k, v in constraints.items()]
        if required:
            if args:
                return f"    {py}: {annotation} = Field(..., {', '.join(args)})"
            return f"    {py}: {annotation}"
        # Optional: may be left out. Unless nullable, an explicit None is refused (defaults are not validated).
        if args:
            return f"    {py}: {annotation} = Field(None, {', '.join(args)})"
        return f"    {py}: {annotation} = None"

    def root(self, ref: str, multipart_file: str | None = None) -> tuple[str, list[str]]:
        """The model name for a request body component; returns (name, names of file fields dropped)."""
        schema = self.schemas[ref]
        name = class_name(ref)
        if multipart_file:
            schema = dict(schema)
            schema["properties"] = {k: v for k, v in schema["properties"].items() if k != multipart_file}
            schema["required"] = [r for r in schema.get("required", []) if r != multipart_file]
            name = f"{name}Fields"
            self.keys[name] = "component"
            return self.define(name, schema, "The form fields of the upload; the file itself is a multipart part."), [
                multipart_file
            ]
        if schema.get("type") == "array":
            inner, _ = self.annotation(schema.get("items"), name, "item")
            self.classes[name] = ModelClass(
                name,
                [
                    f"class {name}(RootModel[list[{inner}]]):",
                    '    """A request body that is a JSON list."""',
                ],
            )
            return name, []
        if not schema.get("properties") and "allOf" not in schema:
            self.classes[name] = ModelClass(
                name,
                [
                    f"class {name}(RootModel[dict[str, Any]]):",
                    '    """A request body that is a free-form JSON object."""',
                ],
            )
            return name, []
        self.keys.setdefault(name, "component")
        return self.define(name, schema), []

    def source(self, users: dict[str, list[str]]) -> str:
        out = [
            '"""Request bodies as pydantic models, so bad input is refused before anything is sent.',
            "",
            GENERATED,
            "",
            "Only requests are modelled strictly: unknown fields are refused (a misspelt field is a bug),",
            "required fields are required, and a field that is optional but not nullable may be left out",
            "while an explicit None is refused (pydantic does not validate defaults, so `x: int = None`",
            "means exactly that). Answers are returned as SpotDraft sent them: the live API may add fields.",
            "Wire names that are not Python names are reachable through `alias` (either name is accepted).",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from typing import Any, Literal",
            "",
            "from pydantic import BaseModel, ConfigDict, Field, RootModel",
            "",
            "",
            "class _Request(BaseModel):",
            '    model_config = ConfigDict(extra="forbid", populate_by_name=True)',
            "",
            "",
        ]
        for alias in sorted(self.aliases):
            out.append(f"{alias} = {self.aliases[alias]}")
        out += ["", ""]
        for cls in self.classes.values():
            lines = list(cls.lines)
            if cls.name in users:
                used = ", ".join(f"`{u}`" for u in users[cls.name])
                lines[1] = f'    """Request body of {used}."""'
                if cls.name.endswith("Fields"):
                    lines[1] = f'    """Form fields of {used}; the file itself goes as a multipart part."""'
            out += lines
            out += ["", ""]
        if self.forward:
            out.append("for _model in list(globals().values()):")
            out.append("    if isinstance(_model, type) and issubclass(_model, BaseModel):")
            out.append("        _model.model_rebuild()")
        return "\n".join(out).rstrip() + "\n"


# =================================================================================================
# Building the catalog
# =================================================================================================
def build(spec: dict[str, Any]) -> tuple[list[OpInfo], ModelWriter]:
    ops: list[OpInfo] = []
    models = ModelWriter(spec)
    seen_ids = set()
    for method, path, op, common in current_operations(spec):
        op_id = op["operationId"]
        seen_ids.add(op_id)
        if op_id not in NAMES:
            raise SystemExit(f"no name for {op_id} ({method} {path}): add it to NAMES")
        name, family, summary = NAMES[op_id]
        if family not in FAMILIES:
            raise SystemExit(f"unknown family {family!r} for {name}: add it to FAMILIES")
        if method == "GET":
            safe = True
        elif method == "POST":
            safe = name in SAFE_POSTS
        else:
            safe = bool(re.search(r"{[^}]+}", path))
        info = OpInfo(
            name=name,
            method=method,
            path=path,
            version=version_of(path),
            family=family,
            operation_id=op_id,
            safe_to_retry=safe,
            summary=summary,
            params=read_params(spec, path, op, common),
            body_schema=None,
        )
        rb = op.get("requestBody")
        if rb:
            content = rb.get("content", {})
            media = (
                content.get("application/json") or content.get("multipart/form-data") or next(iter(content.values()))
            )
            ref = media["schema"]["$ref"].rsplit("/", 1)[-1]
            only_multipart = set(content) == {"multipart/form-data"}
            if name in MULTIPART_UPLOADS or only_multipart:
                part = MULTIPART_UPLOADS.get(name)
                info.body_model, _ = models.root(ref, multipart_file=part)
                info.body_kind = "multipart"
                info.upload = ("multipart", part) if part else None
            else:
                info.body_model, _ = models.root(ref)
                info.body_kind = "json"
                if name in BASE64_UPLOADS:
                    info.upload = ("base64", *BASE64_UPLOADS[name])
            info.body_required = bool(rb.get("required"))
            info.body_schema = resolve(spec, media["schema"])
        code, success = success_content(op)
        schema = resolve(spec, success["schema"]) if success and success.get("schema") else {}
        if success and (
            schema.get("format") == "binary"
            or success["content_type"] in ("application/pdf", "application/octet-stream")
        ):
            info.response_kind = "binary"
            info.returns = "dict[str, Any]"
        elif code == "204":
            info.returns = "None"
        elif not success or not schema:
            info.returns = "Any"
        elif schema.get("type") == "array":
            info.returns = (
                "list[dict[str, Any]]"
                if resolve(spec, schema.get("items")).get("type") == "object" or ("$ref" in (schema.get("items") or {}))
                else "list[Any]"
            )
        elif schema.get("type") == "string":
            info.returns = "str"
        else:
            info.returns = "dict[str, Any]"
        query = {p.name for p in info.params if p.location == "query"}
        info.paginated = {"page", "limit"} <= query and "total_results" in (schema.get("properties") or {})
        ops.append(info)
    stale = set(NAMES) - seen_ids
    if stale:
        raise SystemExit(f"NAMES lists operations the spec no longer has: {sorted(stale)}")
    names = [o.name for o in ops]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SystemExit(f"duplicate task names: {sorted(dupes)}")
    unknown = (set(SAFE_POSTS) | set(BASE64_UPLOADS) | set(MULTIPART_UPLOADS)) - set(names)
    if unknown:
        raise SystemExit(f"tables name tasks that do not exist: {sorted(unknown)}")
    return ops, models


# =================================================================================================
# Writing source
# =================================================================================================
GENERATED = "Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand."


def render_param(p: ParamInfo) -> str:
    args = [repr(p.name), repr(p.location)]
    if p.required:
        args.append("required=True")
    if p.type != "string":
        args.append(f"type={p.type!r}")
    if p.pattern:
        args.append(f"pattern={p.pattern!r}")
    return f"Param({', '.join(args)})"


def catalog_source(ops: list[OpInfo]) -> str:
    out = [
        '"""The catalog of SpotDraft operations: one entry per current operation of the API.',
        "",
        GENERATED,
        "",
        "Each entry says how to call one operation (method, exact path, parameters, request model, kind",
        "of answer) and whether it may be repeated after an ambiguous failure; `OPERATIONS_BY_NAME` is how",
        "the client finds it, and every entry has the task of the same name in `tasks`.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from client import models as m",
        "from client.operation import Operation, Param",
        "",
        "OPERATIONS: tuple[Operation, ...] = (",
    ]
    for op in ops:
        fields = [
            f"name={op.name!r}",
            f"method={op.method!r}",
            f"path={op.path!r}",
            f"version={op.version!r}",
            f"family={op.family!r}",
            f"operation_id={op.operation_id!r}",
            f"safe_to_retry={op.safe_to_retry!r}",
            f"summary={op.summary!r}",
        ]
        if op.params:
            fields.append("params=(" + "".join(f"{render_param(p)}," for p in op.params) + ")")
        if op.body_model:
            fields.append(f"body_model=m.{op.body_model}")
            fields.append(f"body_kind={op.body_kind!r}")
        if op.body_required:
            fields.append("body_required=True")
        if op.response_kind != "json":
            fields.append(f"response_kind={op.response_kind!r}")
        if op.paginated:
            fields.append("paginated=True")
        out.append("    Operation(" + ", ".join(fields) + ",),")
    out.append(")")
    out.append("")
    out.append("OPERATIONS_BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}")
    return "\n".join(out) + "\n"


RESERVED = {"credentials", "body", "destination", "file", "file_name", "filters"}


def py_param(name: str) -> str:
    py = python_name(name)
    return py + "_" if py in RESERVED else py


def query_annotation(p: ParamInfo) -> str:
    if p.enum:
        base = f"Literal[{', '.join(repr(v) for v in p.enum if v is not None)}]"
    else:
        base = {"integer": "int", "boolean": "bool", "number": "float", "array": "list[str]"}.get(p.type, "str")
    return base


def task_source(op: OpInfo) -> tuple[str, set[str]]:
    """The source of one generated task and the names it needs imported."""
    needs: set[str] = set()
    path_params = [p for p in op.params if p.location == "path"]
    query = [p for p in op.params if p.location == "query"]
    # query parameters with wire names that are Python names get their own keyword; the rest
    # (filters, custom fields) go through **filters
    named = [p for p in query if re.fullmatch(r"[a-z][a-z0-9_]*", p.name) and not p.name.startswith("filter")]
    open_ = [p for p in query if p not in named]
    required_q = [p for p in named if p.required]
    optional_q = sorted(
        (p for p in named if not p.required), key=lambda p: (p.name not in ("page", "limit"), p.name != "page", p.name)
    )

    sig = ["credentials: SpotDraftCredentials"]
    for p in path_params:
        sig.append(f"{py_param(p.name)}: {'int' if p.type == 'integer' else 'str'}")
    for p in required_q:
        sig.append(f"{py_param(p.name)}: {query_annotation(p)}")
    if op.upload:
        sig.append("file: str | bytes")
    body_type = None
    if op.body_model:
        if op.upload and op.upload[0] == "base64":
            body_type = "dict[str, Any]"
            file_fields = {op.upload[1], op.upload[2]}
            req = set((op.body_schema or {}).get("required") or []) - file_fields
            body_needed = bool(req)
        else:
            root_list = (op.body_schema or {}).get("type") == "array"
            body_type = "list[dict[str, Any]]" if root_list else f"m.{op.body_model} | dict[str, Any]"
            if root_list:
                body_type = f"m.{op.body_model} | list[dict[str, Any]]"
            body_needed = op.body_required
        if body_needed:
            sig.append(f"body: {body_type}")
    if op.response_kind == "binary":
        sig.append("destination: str")
    paginated_defaults = {"page": "1", "limit": "100"}
    for p in optional_q:
        if op.paginated and p.name in paginated_defaults:
            sig.append(f"{p.name}: int = {paginated_defaults[p.name]}")
        else:
            sig.append(f"{py_param(p.name)}: {query_annotation(p)} | None = None")
    if op.body_model and not body_needed:
        sig.append(f"body: {body_type} | None = None")
    if op.upload:
        sig.append("file_name: str | None = None")
    if open_:
        sig.append("**filters: Any")
    if any("Literal[" in s for s in sig):
        needs.add("Literal")

    call = [f"credentials, {op.name!r}"]
    if path_params:
        call.append("path_params={" + ", ".join(f"{p.name!r}: {py_param(p.name)}" for p in path_params) + "}")
    if query:
        items = [
            f"{p.name!r}: {py_param(p.name) if not (op.paginated and p.name in paginated_defaults) else p.name}"
            for p in named
        ]
        if open_:
            items.append("**filters")
        call.append("query={" + ", ".join(items) + "}")

    pre: list[str] = []
    if op.upload and op.upload[0] == "base64":
        _, name_field, content_field = op.upload
        needs.add("files")
        pre.append("file_name, content = files.base64_upload(file, file_name)")
        pre.append(f"payload = {{**(body or {{}}), {name_field!r}: file_name, {content_field!r}: content}}")
        call.append("body=payload")
    elif op.upload and op.upload[0] == "multipart":
        needs.add("files")
        call.append("body=body")
        call.append(f"files={{{op.upload[1]!r}: part}}")
    elif op.body_model:
        call.append("body=body")

    notes = []
    if op.response_kind == "binary":
        notes.append("Streams the file to `destination` (a file path, or a directory to put it in) and returns")
        notes.append("its path, size in bytes and content type.")
    if op.upload and op.upload[0] == "base64":
        notes.append("`file` is a local path, or the bytes (then give `file_name`); it is sent base64-encoded")
        notes.append(f"as `{op.upload[2]}`, its name as `{op.upload[1]}`, with the other fields of `body`.")
    if op.upload and op.upload[0] == "multipart":
        notes.append("`file` is a local path, or the bytes (then give `file_name`); it is sent as the multipart")
        notes.append(f"part `{op.upload[1]}`, streamed from disk, with the fields of `body` as form fields.")
    if op.paginated:
        notes.append("The answer carries `total_results`, `page`, `limit` and `results`.")
    if open_:
        notes.append('Filters go as keywords with their wire names, e.g. `**{"' + open_[-1].name + '": ...}`.')
    lines = [f"@spotdraft_task({op.name!r})", f"def {op.name}({', '.join(sig)}) -> {op.returns}:"]
    summary = op.summary.rstrip(".") + "."
    if notes:
        lines.append(f'    """{summary}')
        lines.append("")
        lines += [f"    {n}" for n in notes]
        lines.append('    """')
    else:
        lines.append(f'    """{summary}"""')
    lines += [f"    {line}" for line in pre]
    if op.response_kind == "binary":
        call.append("stream_to=destination")
    invocation = f"call_operation({', '.join(call)})"
    if op.response_kind == "binary":
        lines.append(f"    return {invocation}")
    elif op.upload and op.upload[0] == "multipart":
        lines.append("    with files.open_upload(file, file_name) as part:")
        lines.append(f"        return {invocation}")
    elif op.returns == "None":
        lines.append(f"    {invocation}")
    else:
        lines.append(f"    return {invocation}")
    if "m." in "".join(sig):
        needs.add("m")
    return "\n".join(lines) + "\n", needs


def family_source(family: str, ops: list[OpInfo], handwritten: dict[str, HandWritten]) -> str:
    """A family's module: its generated tasks, and its hand-written ones re-exported under the same names."""
    imports = {
        "from typing import Any",
        "from blocks import SpotDraftCredentials",
        "from tasks._base import call_operation, spotdraft_task",
    }
    typing_names = {"Any"}
    bodies = []
    kept = sorted(op.name for op in ops if op.name in handwritten)
    for op in ops:
        if op.name in handwritten:
            continue
        code, needs = task_source(op)
        if "Literal" in needs:
            typing_names.add("Literal")
        if "files" in needs:
            imports.add("from client import files")
        if "m" in needs:
            imports.add("from client import models as m")
        bodies.append(code)
    imports.discard("from typing import Any")
    imports.add(f"from typing import {', '.join(sorted(typing_names))}")
    doc = [FAMILIES[family], "", GENERATED]
    if kept:
        imports.add(f"from tasks._handwritten.{family} import ({', '.join(kept)},)")
        doc.append(f"Hand-written tasks are in tasks/_handwritten/{family}.py and re-exported here.")
    head = ['"""' + doc[0], *doc[1:], '"""', "", "from __future__ import annotations", ""]
    head += sorted(imports)
    # __all__ names every task of the family, so the re-exported ones are public (and ruff keeps their import).
    names = sorted(op.name for op in ops)
    head += ["", "__all__ = [" + "".join(f"{n!r}," for n in names) + "]"]
    return "\n".join(head) + "\n\n\n" + "\n\n".join(bodies)


def init_source(ops: list[OpInfo]) -> str:
    by_family: dict[str, list[str]] = {}
    for op in ops:
        by_family.setdefault(op.family, []).append(op.name)
    lines = [
        '"""One Prefect task per SpotDraft operation, first parameter `credentials`.',
        "",
        "    from tasks import get_contract_status",
        "",
        GENERATED,
        "See docs/tasks.md for the list by family.",
        '"""',
        "",
    ]
    for family in sorted(by_family):
        names = sorted(by_family[family])
        lines.append(f"from tasks.{family} import ({', '.join(names)},)")
    everything = sorted(n for names in by_family.values() for n in names)
    lines.append("")
    lines.append("__all__ = [" + "".join(f"{n!r}," for n in everything) + "]")
    return "\n".join(lines) + "\n"


def docs_source(ops: list[OpInfo]) -> str:
    by_family: dict[str, list[OpInfo]] = {}
    for op in ops:
        by_family.setdefault(op.family, []).append(op)
    v21 = sum(op.version == "v2.1" for op in ops)
    lines = [
        "# Tasks",
        "",
        "<!-- " + GENERATED + " -->",
        "",
        f"{len(ops)} tasks, one per current SpotDraft operation ({v21} in v2.1, "
        f"{len(ops) - v21} that exist only in v1),",
        "each importable as `from tasks import <name>` and called with a `SpotDraftCredentials` block first.",
        '"Retry" says whether the operation is repeated after a transient failure (5xx, timeout);',
        "429 and connections that never opened are retried for every operation.",
        "",
    ]
    for family in sorted(by_family):
        lines.append(f"## {family}")
        lines.append("")
        lines.append(FAMILIES[family])
        lines.append("")
        lines.append("| Task | Method | Path | Retry | What it does |")
        lines.append("| ---- | ------ | ---- | ----- | ------------ |")
        for op in sorted(by_family[family], key=lambda o: o.name):
            extra = []
            if op.paginated:
                extra.append("paginated")
            if op.response_kind == "binary":
                extra.append("downloads a file")
            if op.upload:
                extra.append("uploads a file")
            note = f" ({', '.join(extra)})" if extra else ""
            retry = "yes" if op.safe_to_retry else "no"
            lines.append(f"| `{op.name}` | {op.method} | `{op.path}` | {retry} | {op.summary}{note} |")
        lines.append("")
    return "\n".join(lines)


# The packages generated code imports from, named so that import sorting does not depend on which
# directories ruff happens to find beside them (it guesses first-party packages from the tree).
FIRST_PARTY = '["blocks", "client", "tasks"]'


def ruff(source: str, filename: str) -> str:
    """Sort imports and format, with the project's ruff configuration."""
    sort = ["check", "--fix", "--select", "I,F401", "--config", f"lint.isort.known-first-party = {FIRST_PARTY}"]
    for args in ([*sort, "--quiet", "--exit-zero"], ["format", "--quiet"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--stdin-filename", filename, "-"],
            input=source,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"ruff {args[0]} failed on {filename}:\n{done.stderr}\n{source}")
        source = done.stdout
    return source


README_BEGIN = "<!-- tasks:begin (generated by tools/generate_catalog.py; do not edit by hand) -->"
README_END = "<!-- tasks:end -->"


def readme_source(ops: list[OpInfo]) -> str:
    """README.md with its task index (every task by family) regenerated between the markers."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        raise SystemExit(f"README.md needs the markers {README_BEGIN!r} and {README_END!r}")
    by_family: dict[str, list[str]] = {}
    for op in ops:
        by_family.setdefault(op.family, []).append(op.name)
    lines = [f"{len(ops)} tasks; methods, paths and retry behaviour in [docs/tasks.md](docs/tasks.md).", ""]
    lines += ["| family | tasks |", "| --- | --- |"]
    for family, names in sorted(by_family.items()):
        lines.append(f"| {family} | {', '.join(f'`{n}`' for n in sorted(names))} |")
    head, rest = text.split(README_BEGIN, 1)
    tail = rest.split(README_END, 1)[1]
    return head + README_BEGIN + "\n" + "\n".join(lines) + "\n" + README_END + tail


def render(spec: dict[str, Any]) -> dict[str, str]:
    """Every generated file: relative path -> content."""
    ops, models = build(spec)
    handwritten = read_handwritten()
    check_handwritten(ops, handwritten)
    users: dict[str, list[str]] = {}
    for op in ops:
        if op.body_model:
            users.setdefault(op.body_model, []).append(op.name)
    files: dict[str, str] = {
        "client/models.py": ruff(models.source(users), "client/models.py"),
        "client/catalog.py": ruff(catalog_source(ops), "client/catalog.py"),
        "tasks/__init__.py": ruff(init_source(ops), "tasks/__init__.py"),
        "docs/tasks.md": docs_source(ops),
        "README.md": readme_source(ops),
    }
    by_family: dict[str, list[OpInfo]] = {}
    for op in ops:
        by_family.setdefault(op.family, []).append(op)
    for family, family_ops in sorted(by_family.items()):
        rel = f"tasks/{family}.py"
        files[rel] = ruff(family_source(family, family_ops, handwritten), rel)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="the OpenAPI document (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 if any generated file would change")
    args = parser.parse_args(argv)
    if not args.spec.is_file():
        print(f"no spec at {args.spec}; pass --spec", file=sys.stderr)
        return 2
    files = render(load_spec(args.spec))
    changed = [
        rel
        for rel, content in files.items()
        if not (ROOT / rel).exists() or (ROOT / rel).read_text(encoding="utf-8") != content
    ]
    if args.check:
        for rel in changed:
            print(f"would change: {rel}")
        return 1 if changed else 0
    for rel in changed:
        (ROOT / rel).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / rel).write_text(files[rel], encoding="utf-8")
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
