"""One Prefect task per SpotDraft operation, first parameter `credentials`.

    from tasks import get_contract_status

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
See docs/tasks.md for the list by family.
"""

from tasks.analytics import (
    run_analytics_query,
)
from tasks.approvals import (
    create_contract_approvals,
    list_contract_approvals,
)
from tasks.clickwrap import (
    execute_clickwrap,
    get_clickwrap,
    get_clickwrap_consent_status,
    preview_clickwrap_agreement,
)
from tasks.comments import (
    add_contract_comment,
    list_contract_comments,
)
from tasks.contract_metadata import (
    bulk_update_contract_key_pointers,
    get_contract_key_pointers,
    get_key_pointer_field_mapping,
    list_key_pointer_definitions,
    update_contract_key_pointer,
)
from tasks.contract_types import (
    get_contract_type_access_control,
    get_contract_type_intake_questionnaire,
    list_contract_type_entities,
    list_contract_types,
)
from tasks.contracts import (
    create_contract,
    create_contract_relations,
    download_contract,
    download_contract_docx,
    get_contract_content,
    get_contract_download_link,
    get_contract_process_metrics,
    get_contract_questionnaire_responses,
    get_contract_status,
    get_contracts_by_external_metadata,
    get_counterparty_embedded_url,
    get_scanned_contract_content,
    list_contracts,
    list_related_contracts,
    mark_contract_for_execution,
    preview_contract,
    request_contract_review,
    resend_signatory_email,
    send_contract_to_counterparties,
    unmark_contract_for_execution,
    update_contract_business_user,
    update_contract_data,
    update_contract_intake_response,
    upload_contract_for_review,
    upload_contract_for_signature,
    upload_contract_version,
    upload_executed_contract,
    upload_supporting_document,
    void_contract,
)
from tasks.counterparties import (
    bulk_update_counterparty_contacts,
    create_counterparty,
    create_counterparty_address,
    create_counterparty_contact,
    delete_counterparty_contact,
    get_counterparty,
    list_counterparties,
    list_counterparty_addresses,
    list_counterparty_contacts,
    update_counterparty,
    update_counterparty_address,
    update_counterparty_contact,
)
from tasks.emails import (
    get_rendered_email,
)
from tasks.external_metadata import (
    get_contract_external_metadata,
    set_contract_external_metadata,
)
from tasks.facets import (
    get_facet_options,
    list_contract_facets,
)
from tasks.integrations import (
    queue_native_integration_contracts,
)
from tasks.invitations import (
    invite_to_contract,
    uninvite_all_from_contract,
    uninvite_from_contract,
)
from tasks.legal_intake import (
    create_legal_intake,
    delete_legal_intake,
    get_legal_intake,
    list_legal_intakes,
    update_legal_intake,
)
from tasks.notes import (
    get_contract_notes,
    update_contract_note,
)
from tasks.obligations import (
    bulk_create_contract_obligations,
    bulk_update_contract_obligations,
    create_contract_obligation,
    delete_contract_obligation,
    get_contract_obligation,
    get_obligation_type,
    list_contract_obligations,
    list_obligation_types,
    update_contract_obligation,
)
from tasks.organizations import (
    create_organization_entity,
    list_organization_entities,
    list_organization_types,
)
from tasks.recipients import (
    get_recipient_link,
    list_contract_recipients,
)
from tasks.sidebar import (
    run_sidebar_query,
    upload_sidebar_file,
)
from tasks.templates import (
    get_template,
    get_template_metadata,
    list_templates,
    update_template,
)
from tasks.user_tasks import (
    bulk_create_contract_tasks,
    create_user_task,
)
from tasks.users import (
    add_role_members,
    deactivate_user,
    invite_user,
    list_contract_authorized_users,
    list_roles,
    list_users,
    remove_role_members,
    update_user,
)
from tasks.webhooks import (
    create_webhook,
    delete_webhook,
    get_webhook_hmac_key,
    retrigger_contract_webhooks,
    send_sample_webhook,
)
from tasks.workspace import (
    check_workspace_feature_flags,
    create_workspace_tags,
    get_workspace_file_download_url,
    start_workspace_file_uploads,
)

__all__ = [
    "add_contract_comment",
    "add_role_members",
    "bulk_create_contract_obligations",
    "bulk_create_contract_tasks",
    "bulk_update_contract_key_pointers",
    "bulk_update_contract_obligations",
    "bulk_update_counterparty_contacts",
    "check_workspace_feature_flags",
    "create_contract",
    "create_contract_approvals",
    "create_contract_obligation",
    "create_contract_relations",
    "create_counterparty",
    "create_counterparty_address",
    "create_counterparty_contact",
    "create_legal_intake",
    "create_organization_entity",
    "create_user_task",
    "create_webhook",
    "create_workspace_tags",
    "deactivate_user",
    "delete_contract_obligation",
    "delete_counterparty_contact",
    "delete_legal_intake",
    "delete_webhook",
    "download_contract",
    "download_contract_docx",
    "execute_clickwrap",
    "get_clickwrap",
    "get_clickwrap_consent_status",
    "get_contract_content",
    "get_contract_download_link",
    "get_contract_external_metadata",
    "get_contract_key_pointers",
    "get_contract_notes",
    "get_contract_obligation",
    "get_contract_process_metrics",
    "get_contract_questionnaire_responses",
    "get_contract_status",
    "get_contract_type_access_control",
    "get_contract_type_intake_questionnaire",
    "get_contracts_by_external_metadata",
    "get_counterparty",
    "get_counterparty_embedded_url",
    "get_facet_options",
    "get_key_pointer_field_mapping",
    "get_legal_intake",
    "get_obligation_type",
    "get_recipient_link",
    "get_rendered_email",
    "get_scanned_contract_content",
    "get_template",
    "get_template_metadata",
    "get_webhook_hmac_key",
    "get_workspace_file_download_url",
    "invite_to_contract",
    "invite_user",
    "list_contract_approvals",
    "list_contract_authorized_users",
    "list_contract_comments",
    "list_contract_facets",
    "list_contract_obligations",
    "list_contract_recipients",
    "list_contract_type_entities",
    "list_contract_types",
    "list_contracts",
    "list_counterparties",
    "list_counterparty_addresses",
    "list_counterparty_contacts",
    "list_key_pointer_definitions",
    "list_legal_intakes",
    "list_obligation_types",
    "list_organization_entities",
    "list_organization_types",
    "list_related_contracts",
    "list_roles",
    "list_templates",
    "list_users",
    "mark_contract_for_execution",
    "preview_clickwrap_agreement",
    "preview_contract",
    "queue_native_integration_contracts",
    "remove_role_members",
    "request_contract_review",
    "resend_signatory_email",
    "retrigger_contract_webhooks",
    "run_analytics_query",
    "run_sidebar_query",
    "send_contract_to_counterparties",
    "send_sample_webhook",
    "set_contract_external_metadata",
    "start_workspace_file_uploads",
    "uninvite_all_from_contract",
    "uninvite_from_contract",
    "unmark_contract_for_execution",
    "update_contract_business_user",
    "update_contract_data",
    "update_contract_intake_response",
    "update_contract_key_pointer",
    "update_contract_note",
    "update_contract_obligation",
    "update_counterparty",
    "update_counterparty_address",
    "update_counterparty_contact",
    "update_legal_intake",
    "update_template",
    "update_user",
    "upload_contract_for_review",
    "upload_contract_for_signature",
    "upload_contract_version",
    "upload_executed_contract",
    "upload_sidebar_file",
    "upload_supporting_document",
    "void_contract",
]
