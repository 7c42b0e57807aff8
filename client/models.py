"""Request bodies as pydantic models, so bad input is refused before anything is sent.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.

Only requests are modelled strictly: unknown fields are refused (a misspelt field is a bug),
required fields are required, and a field that is optional but not nullable may be left out
while an explicit None is refused (pydantic does not validate defaults, so `x: int = None`
means exactly that). Answers are returned as SpotDraft sent them: the live API may add fields.
Wire names that are not Python names are reachable through `alias` (either name is accepted).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


ActivityEnum = Literal[
    "CONTRACT_VERSION_UPLOADED",
    "CONTRACT_APPROVAL_COMPLETED",
    "CONTRACT_APPROVAL_REQUESTED",
    "CONTRACT_CREATED",
    "CONTRACT_DATA_UPDATED",
    "CONTRACT_DELETED",
    "CONTRACT_EXECUTED",
    "CONTRACT_MARK_FOR_EXECUTION",
    "CONTRACT_SENT_TO_COUNTERPARTY",
    "CONTRACT_SIGNATURE_DECLINED",
    "CONTRACT_SIGNATURE_REQUESTED",
    "CONTRACT_SIGNED",
    "CONTRACT_UNMARK_FOR_EXECUTION",
    "POSTMARK_EMAIL_EVENT",
    "CONTRACT_KEY_POINTER_UPDATION",
    "CONTRACT_KEY_POINTER_CREATION",
    "SIGNING_EMAIL_DELIVERED",
    "SIGNING_EMAIL_OPENED",
    "SIGNING_EMAIL_NOT_DELIVERED",
    "SIGNING_EMAIL_LINK_CLICKED",
    "REDLINING_EMAIL_DELIVERED",
    "REDLINING_EMAIL_OPENED",
    "REDLINING_EMAIL_NOT_DELIVERED",
    "REDLINING_EMAIL_LINK_CLICKED",
    "CONTRACT_SIGNATURE_REQUESTED_NOTIFICATION_SENT",
    "COUNTER_PARTY_CREATED",
    "COUNTER_PARTY_UPDATED",
    "COUNTER_PARTY_CONTACT_CREATED",
    "COUNTER_PARTY_CONTACT_UPDATED",
    "COUNTER_PARTY_ADDRESS_CREATED",
    "COUNTER_PARTY_ADDRESS_UPDATED",
    "CONTRACT_ACTIVITY_LOG_COMMENT_CREATED",
    "CONTRACT_VOIDED",
    "CONTRACT_PROCESS_METRIC_UPDATED",
    "CONTRACT_EXTERNAL_METADATA_CREATED",
    "CONTRACT_EXTERNAL_METADATA_UPDATED",
    "CONTRACT_ENTITY_UPDATED",
]
AttachmentFormatsEnum = Literal["DOCX", "PDF", "TEMPLATE"]
ContractActivityDomainModelContractKindEnum = Literal[
    "TEMPLATE_CONTRACT",
    "EDITED_TEMPLATE_CONTRACT",
    "THIRD_PARTY_CONTRACT",
    "SIGN_CONTRACT",
    "EXECUTED_CONTRACT",
    "EXPRESS_TEMPLATE_CONTRACT",
    "CLICKWRAP_CONTRACT",
    "HISTORICAL_CLICKWRAP_CONTRACT",
]
EditableDocumentDownloadFormat = Literal["PDF", "DOCX", "DOCX_WITH_FALLBACK_TO_PDF"]
EntityTypeEnum = Literal["ORG_USER"]
IntakeTaskStatusEnum = Literal["PENDING", "IN_PROGRESS", "BLOCKED", "COMPLETED", "DISCARDED"]
IntegrationSolutionEntityIdEnum = Literal["COUPA_CREATE_CONTRACT"]
LegalIntakeAssigneeType = Literal["ASSIGNED_TO", "COLLABORATOR"]
LegalIntakePriority = Literal["LOW", "MEDIUM", "HIGH"]
LegalIntakeStatus = Literal["DRAFT", "PENDING", "IN_PROGRESS", "BLOCKED", "COMPLETED", "DISCARDED"]
OnlyForActivitiesEnum = Literal[
    "CONTRACT_VERSION_UPLOADED",
    "CONTRACT_APPROVAL_COMPLETED",
    "CONTRACT_APPROVAL_REQUESTED",
    "CONTRACT_CREATED",
    "CONTRACT_DATA_UPDATED",
    "CONTRACT_DELETED",
    "CONTRACT_EXECUTED",
    "CONTRACT_MARK_FOR_EXECUTION",
    "CONTRACT_SENT_TO_COUNTERPARTY",
    "CONTRACT_SIGNATURE_DECLINED",
    "CONTRACT_SIGNATURE_REQUESTED",
    "CONTRACT_SIGNED",
    "CONTRACT_UNMARK_FOR_EXECUTION",
    "POSTMARK_EMAIL_EVENT",
    "CONTRACT_KEY_POINTER_UPDATION",
    "CONTRACT_KEY_POINTER_CREATION",
    "SIGNING_EMAIL_DELIVERED",
    "SIGNING_EMAIL_OPENED",
    "SIGNING_EMAIL_NOT_DELIVERED",
    "SIGNING_EMAIL_LINK_CLICKED",
    "REDLINING_EMAIL_DELIVERED",
    "REDLINING_EMAIL_OPENED",
    "REDLINING_EMAIL_NOT_DELIVERED",
    "REDLINING_EMAIL_LINK_CLICKED",
    "CONTRACT_SIGNATURE_REQUESTED_NOTIFICATION_SENT",
    "COUNTER_PARTY_CREATED",
    "COUNTER_PARTY_UPDATED",
    "COUNTER_PARTY_CONTACT_CREATED",
    "COUNTER_PARTY_CONTACT_UPDATED",
    "COUNTER_PARTY_ADDRESS_CREATED",
    "COUNTER_PARTY_ADDRESS_UPDATED",
    "CONTRACT_ACTIVITY_LOG_COMMENT_CREATED",
    "CONTRACT_VOIDED",
    "CONTRACT_PROCESS_METRIC_UPDATED",
    "CONTRACT_EXTERNAL_METADATA_CREATED",
    "CONTRACT_EXTERNAL_METADATA_UPDATED",
    "CONTRACT_ENTITY_UPDATED",
]
PermissionFilterListEnum = Literal["READ", "SUGGEST", "EDIT", "SIGN", "CREATE"]
PriorityEnum = Literal["LOW", "MEDIUM", "HIGH"]
RelationTypeEnum = Literal["CHILD", "ADDENDUM", "AMENDMENT", "PARENT"]
StatusDc2Enum = Literal["PENDING", "COMPLETED", "FAILED", "VERIFIED"]
TagEntityType = Literal["Contract", "Clause"]
TaskCategoryEnum = Literal["USER_TASK", "OBLIGATION_TASK", "INTAKE_TASK"]
UploadSourceEnum = Literal["chat", "hub", "assistant", "table"]


class PublicAnalyticsQueryRequest(_Request):
    """Request body of `run_analytics_query`."""

    query: str = Field(..., max_length=10000)
    user_scoped: bool | None = None


class PublicRoleMembersAddRequest(_Request):
    """Request body of `add_role_members`."""

    user_ids_to_add: list[int] = None


class InviteUserAndAssignRolesPublicRequest(_Request):
    """Request body of `invite_user`."""

    first_name: str
    last_name: str = None
    designation: str = None
    email: str
    role_ids: list[int] = None


class ClickwrapAgreementPreviewRequest(_Request):
    """Request body of `preview_clickwrap_agreement`."""

    auth_user_id: int
    workspace_id: int
    org_user_id: int
    agreement_id: int
    name: str
    html_content: str


class PublicGetClickwrapConsentStatusRequestData(_Request):
    """Request body of `get_clickwrap_consent_status`."""

    user_identifier: str = Field(..., min_length=1)


class CreateClickwrapContractAgreementVersionRequest(_Request):
    """Part of a request body."""

    id: int
    version_id: int
    has_clicked: bool = None


class CreateClickwrapContractRequest(_Request):
    """Request body of `execute_clickwrap`."""

    clickwrap_public_id: str
    user_identifier: str
    clickwrap_id: int
    first_name: str = None
    last_name: str = None
    user_email: str = None
    ip_address: str = None
    additional_custom_information: dict[str, Any] = None
    key_pointer_information: dict[str, Any] = None
    agreements: list[CreateClickwrapContractAgreementVersionRequest] = Field(..., min_length=1)
    external_metadata: dict[str, Any] = None


class ContractTypeAccessControlListAPIRequest(_Request):
    """Request body of `get_contract_type_access_control`."""

    permission_filter_list: list[PermissionFilterListEnum]


class ExternalPOCDetails(_Request):
    """Part of a request body."""

    first_name: str
    last_name: str = None
    email: str


class OrganizationAddressV2_1(_Request):
    """Part of a request body."""

    city: str
    state: str = None
    country: str = None
    zipcode: str = None
    line_one: str
    line_two: str = None
    email: str = None
    phone: str = None
    gst_number: str = None
    tax_id: str = None
    country_iso_code: str


class OrganizationDetailsV2_1(_Request):
    """Part of a request body."""

    jurisdiction: str = None
    address: OrganizationAddressV2_1 = None
    jurisdiction_iso_code: str = None


class ExternalCounterPartyDetailsV2_1(_Request):
    """Part of a request body."""

    is_individual: bool
    organization_type: str = None
    organization_name: str = None
    poc_details: ExternalPOCDetails
    organization_details: OrganizationDetailsV2_1 = None
    party_role_identifier: str = Field(None, min_length=1)


class WorkflowConfig(_Request):
    """Part of a request body."""

    auto_send_to_counterparty: bool = None
    api_only_contract_edits: bool = None
    skip_cp_info_collection: bool = None
    skip_creator_info_collection: bool = None


class EmailBase64Attachment(_Request):
    """Part of a request body."""

    file_name: str
    mime_type: str
    content_base64: str


class SendToCounterparty(_Request):
    """Request body of `send_contract_to_counterparties`."""

    to_emails: list[str] = None
    cc_emails: list[str] = None
    bcc_emails: list[str] = None
    attachment_formats: list[AttachmentFormatsEnum]
    extra_attachments: list[EmailBase64Attachment] = None
    custom_message: str = None
    subject: str = None


class ExternalCreateContractSignatory(_Request):
    """Part of a request body."""

    name: str
    email: str
    title: str = None
    is_counterparty_signatory: bool
    counterparty_name: str = None
    sign_order: int = None
    note: str = None


class ExternalCreateContractV2_1(_Request):
    """Request body of `create_contract`."""

    contract_template_id: int
    contract_data: Any
    counter_party_details: list[ExternalCounterPartyDetailsV2_1]
    external_metadata: Any = None
    entity_reference_id: str = None
    workflow_config: WorkflowConfig = None
    send_to_counterparty_config: SendToCounterparty = None
    contract_name: str = None
    signatories: list[ExternalCreateContractSignatory] = None
    is_embedded_contract: bool = None


class ExternalCreateContractApprovalRequest(_Request):
    """Part of a request body."""

    name: str
    approver_user_id: int = None
    approver_role_id: int = None
    notes: str
    order: int = None


class ExternalCreateContractApprovalRequestList(_Request):
    """Request body of `create_contract_approvals`."""

    approvals: list[ExternalCreateContractApprovalRequest]


class Address(_Request):
    """Part of a request body."""

    city: str
    state: str = None
    country: str
    zipcode: str = None
    line_one: str
    line_two: str = None
    email: str = None
    phone: str = None
    gst_number: str = None
    tax_id: str = None
    country_iso_code: str = None


class CounterPartyDetailsOrganizationDetails(_Request):
    """Part of a request body."""

    jurisdiction: str = None
    address: Address = None


class PocDetails(_Request):
    """Part of a request body."""

    first_name: str
    last_name: str
    email: str


class CounterPartyDetails(_Request):
    """Part of a request body."""

    is_individual: bool
    organization_type: str = None
    organization_name: str = None
    organization_details: CounterPartyDetailsOrganizationDetails = None
    poc_details: PocDetails
    party_role_identifier: str = Field(None, min_length=1)


class ExternalMetadata(_Request):
    """Part of a request body."""

    id: Any = None
    integration_name: str = None
    record_type: str = None
    record_data: dict[str, Any] = None
    object_configuration_id: str = None


class CreateExecutedContractAPIRequest(_Request):
    """Request body of `upload_executed_contract`."""

    contract_name: str
    file_name: str
    file_content: str
    contract_type_id: int
    organization_entity_id: int
    counterparty_details: list[CounterPartyDetails] = None
    external_metadata: ExternalMetadata = None


class GenerateContractPreviewRequest(_Request):
    """Request body of `preview_contract`."""

    contract_template_id: int
    contract_data: dict[str, Any]
    organization_entity_id: int = None
    counter_party_details: list[CounterPartyDetails] = None


class Reviewer(_Request):
    """Part of a request body."""

    org_user_email: str = None
    role_id: int = None
    description: str = None


class CounterpartyPocDetails(_Request):
    """Part of a request body."""

    first_name: str
    last_name: str
    email: str


class CreatorPartySignatoryRequest(_Request):
    """Part of a request body."""

    email: str
    title: str = None
    note: str = None


class ContractUploadForReviewRequest(_Request):
    """Request body of `upload_contract_for_review`."""

    contract_name: str
    contract_type_id: int
    file_name: str
    file_base64: str
    creator_organization_entity_id: int = None
    external_metadata: ExternalMetadata = None
    reviewer: Reviewer = None
    counterparty_workspace_id: int = None
    counterparty_organization_name: str = None
    counterparty_is_individual: bool = None
    counterparty_poc_details: CounterpartyPocDetails = None
    intake_form_data: dict[str, Any] = None
    business_user_email: str = None
    creator_signatories: list[CreatorPartySignatoryRequest] = None


class ContractUploadForSignatureRequest(_Request):
    """Request body of `upload_contract_for_signature`."""

    contract_name: str
    contract_type_id: int
    file_name: str = Field(..., min_length=1)
    file_base64: str = Field(..., min_length=1)
    creator_organization_entity_id: int = None
    counterparty_organization_name: str
    external_metadata: ExternalMetadata = None
    counterparty_is_individual: bool = None
    counterparty_poc_details: CounterpartyPocDetails = None
    intake_form_data: dict[str, Any] = None
    business_user_email: str = None
    creator_signatories: list[CreatorPartySignatoryRequest] = None


class RetriggerLatestWebhooksRequest(_Request):
    """Request body of `retrigger_contract_webhooks`."""

    contract_ids: list[int]


class DownloadLinkRequest(_Request):
    """Request body of `get_contract_download_link`."""

    format: EditableDocumentDownloadFormat | None = None


class PatchedIntakeFormData(RootModel[dict[str, Any]]):
    """Request body of `update_contract_intake_response`."""


class ContractKeyPointerRequest(_Request):
    """Part of a request body."""

    key_pointer_id: int = None
    key_pointer_field_name: str = None
    value: Any = None


class ContractKeyPointerBulkRequest(_Request):
    """Request body of `bulk_update_contract_key_pointers`."""

    key_pointers: list[ContractKeyPointerRequest]


class MarkForExecutionRequest(_Request):
    """Request body of `mark_contract_for_execution`."""

    affix_stamp_documents: bool = None


class CreateSignatoryResendEmailAPIRequest(_Request):
    """Request body of `resend_signatory_email`."""

    email_id: str


class VoidContractRequestData(_Request):
    """Request body of `void_contract`."""

    note: str = Field(..., min_length=1)


class ContractUnMarkForExecutionRequest(_Request):
    """Request body of `unmark_contract_for_execution`."""

    note: str = None


class PatchedExternalUpdateContractBusinessUserRequest(_Request):
    """Request body of `update_contract_business_user`."""

    user_id: int
    update_user_task_on_bu_update: bool = None


class ExternalCreateContractCommentRequest(_Request):
    """Request body of `add_contract_comment`."""

    comment: str


class PatchedContractDataUpdateRequest(_Request):
    """Request body of `update_contract_data`."""

    data: dict[str, Any]


class ExternalContractRelationCreateRequest(_Request):
    """Request body of `create_contract_relations`."""

    related_contract_id: int
    relation_type: RelationTypeEnum


class PublicUploadContractVersionRequest(_Request):
    """Request body of `upload_contract_version`."""

    document_name: str
    document_base_64: str
    collect_approvals: bool = None
    is_executed_version: bool = None


class PublicDownloadContractDocxRequest(_Request):
    """Request body of `download_contract_docx`."""

    fallback_to_last_available_docx: bool = None


class PublicExternalMetadata(_Request):
    """Part of a request body."""

    id: Any = None
    integration_name: str = None
    record_type: str = None
    record_data: dict[str, Any] = None
    object_configuration_id: str = None


class ExternalMetadataCreateOrUpdateRequestData(_Request):
    """Request body of `set_contract_external_metadata`."""

    external_metadata: PublicExternalMetadata


class ExternalContractInviteRequestItem(_Request):
    """Part of a request body."""

    role_id: int = None
    user_id: int = None
    new_user_email: str = Field(None, min_length=1)
    new_user_name: str = Field(None, min_length=1)
    new_user_role_id: int = None
    note: str = Field(None, min_length=1)
    permission_name: Literal["CONTRACT.READ", "CONTRACT.SUGGEST", "CONTRACT.EDIT", "CONTRACT.SIGN"]


class ExternalContractInviteRequest(_Request):
    """Request body of `invite_to_contract`."""

    items: list[ExternalContractInviteRequestItem]


class ParagraphId(_Request):
    """Part of a request body."""

    backend_id: str = None
    uuid: str = None


class Coordinates(_Request):
    """Part of a request body."""

    x: int | float
    y: int | float


class BoundingBox(_Request):
    """Part of a request body."""

    top_left: Coordinates
    bottom_right: Coordinates
    page_number: int
    line_id: str = None


class DocxNavSource(_Request):
    """Part of a request body."""

    xpath: str = None
    text: str


class Span(_Request):
    """Part of a request body."""

    id: dict[str, Any] = None
    text: str = None
    value: dict[str, Any] = None
    bounding_boxes: list[BoundingBox] = None
    docx_nav_sources: list[DocxNavSource] = None
    end_index: int
    start_index: int = None


class DealPoint(_Request):
    """Part of a request body."""

    uuid: str
    para_id: ParagraphId
    span: Span
    label: str
    confidence_score: int | float
    is_removed: bool = None
    source: dict[str, Any]
    standard_text: str = None


class DealPointSuggestionDomainModel(_Request):
    """Part of a request body."""

    id: str
    historic_contract_id: int = None
    contract_id: int = None
    async_task_id: str
    value: str
    deal_point: DealPoint
    source: str


class SuggestionRankingDomainModel(_Request):
    """Part of a request body."""

    id: int = None
    key_pointer_id: int
    suggestion: DealPointSuggestionDomainModel
    rank: int
    score: int | float
    source: str
    parsed_value: Any = None


class SpanBase(_Request):
    """Part of a request body."""

    id: dict[str, Any] = None
    text: str = None
    value: dict[str, Any] = None
    bounding_boxes: list[BoundingBox] = None
    docx_nav_sources: list[DocxNavSource] = None


class ValueSourceMetadata(_Request):
    """Part of a request body."""

    id: str = None
    value: Any = None
    ranked_suggestion: SuggestionRankingDomainModel = None
    user_selected_span: SpanBase = None


class PatchedContractKeyPointerUpdateRequest(_Request):
    """Request body of `update_contract_key_pointer`."""

    value: Any = None
    was_edited_by_user: bool = None
    value_source_metadata: list[ValueSourceMetadata] = None
    source_non_validated_value: Any = None
    source_datatype: str = None


class ContractNoteTagRequest(_Request):
    """Part of a request body."""

    name: str
    id: int = None


class ContractNoteUpdateRequest(_Request):
    """Request body of `update_contract_note`."""

    note_tag: ContractNoteTagRequest = None
    text: str


class TaskAssigneeCreateRequest(_Request):
    """Part of a request body."""

    org_user_id: int = None
    role_id: int = None


class ReminderRelativeTime(_Request):
    """Part of a request body."""

    value: int
    type: Literal["DAYS", "WEEKS", "MONTHS", "YEARS"] = None
    days: int


class TaskAssociationCreateRequest(_Request):
    """Part of a request body."""

    entity_id: int = None
    entity_type: Literal["OBLIGATION", "LEGAL_INTAKE"] = None
    association_type: Literal["PRIMARY", "SECONDARY"] = None


class CreateContractObligationPublicRequestTasksItem(_Request):
    """Part of a request body."""

    title: str = Field(..., min_length=1)
    notes: str = None
    contract_id: int = None
    due_date: str = None
    due_date_key_pointer_id: int = None
    assignees: list[TaskAssigneeCreateRequest]
    reminders: list[ReminderRelativeTime] = None
    task_category: Literal["USER_TASK", "OBLIGATION_TASK", "INTAKE_TASK"] = None
    priority: Literal["LOW", "MEDIUM", "HIGH"] = None
    intake_task_status: Literal["PENDING", "IN_PROGRESS", "BLOCKED", "COMPLETED", "DISCARDED"] = None
    task_associations: list[TaskAssociationCreateRequest] = None


class CustomFields(_Request):
    """Part of a request body."""

    clause: str = None
    contractual_delivery_value: int | int | float | str = None
    frequency: str = None


class CreateContractObligationPublicRequest(_Request):
    """Request body of `create_contract_obligation`."""

    obligation_type_id: int
    title: str
    description: str = None
    start_date: str = None
    end_date: str
    tasks: list[CreateContractObligationPublicRequestTasksItem] = None
    status: StatusDc2Enum = None
    custom_fields: CustomFields = None
    priority: PriorityEnum


class CreateContractObligationPublicRequestListItem(_Request):
    """Part of a request body."""

    obligation_type_id: int
    title: str
    description: str = None
    start_date: str = None
    end_date: str
    tasks: list[CreateContractObligationPublicRequestTasksItem] = None
    status: Literal["PENDING", "COMPLETED", "FAILED", "VERIFIED"] = None
    custom_fields: CustomFields = None
    priority: Literal["LOW", "MEDIUM", "HIGH"]


class CreateContractObligationPublicRequestList(RootModel[list[CreateContractObligationPublicRequestListItem]]):
    """Request body of `bulk_create_contract_obligations`."""


class UpdateObligationRequestWithId(_Request):
    """Part of a request body."""

    title: str = None
    description: str = None
    start_date: str = None
    end_date: str = None
    status: Literal["PENDING", "COMPLETED", "FAILED", "VERIFIED"] = None
    priority: Literal["LOW", "MEDIUM", "HIGH"] = None
    custom_fields: CustomFields = None
    obligation_type_id: int = None
    id: int


class PatchedUpdateObligationRequestList(RootModel[list[UpdateObligationRequestWithId]]):
    """Request body of `bulk_update_contract_obligations`."""


class PatchedUpdateObligationRequest(_Request):
    """Request body of `update_contract_obligation`."""

    title: str = None
    description: str = None
    start_date: str = None
    end_date: str = None
    status: StatusDc2Enum = None
    priority: PriorityEnum = None
    custom_fields: CustomFields = None
    obligation_type_id: int = None


class ReviewRequestCreateRequest(_Request):
    """Request body of `request_contract_review`."""

    description: str = Field(None, min_length=1)
    assignee_user_id: int = None
    assignee_role_id: int = None


class UserTaskCreateRequestList(RootModel[list[CreateContractObligationPublicRequestTasksItem]]):
    """Request body of `bulk_create_contract_tasks`."""


class ExternalContractUnInviteRequest(_Request):
    """Request body of `uninvite_from_contract`."""

    user_id: int = None
    role_id: int = None


class PrimaryAddress(_Request):
    """Part of a request body."""

    line_one: str
    city_name: str
    state_name: str = None
    zipcode: str = None
    email: str = None
    phone: str = None
    country_name: str
    country_iso_code: str = None


class CreateCounterPartyAPIRequest(_Request):
    """Request body of `create_counterparty`."""

    is_individual: bool
    organization_type: str = None
    organization_name: str = None
    contact_name: str = None
    contact_email: str = None
    brand_name: str = None
    primary_address: PrimaryAddress = None
    custom_fields: dict[str, Any] = None


class PatchedExternalCounterpartyUpdateRequest(_Request):
    """Request body of `update_counterparty`."""

    name: str = Field(None, min_length=1)
    brand_name: str = None
    custom_fields: dict[str, Any] = None


class CreateCounterPartyAddressRequest(_Request):
    """Request body of `create_counterparty_address`."""

    line_one: str
    city_name: str
    state_name: str = None
    zipcode: str = None
    email: str = None
    phone: str = None
    country_name: str
    country_iso_code: str = None


class PatchedExternalCounterpartyAddressUpdateRequest(_Request):
    """Request body of `update_counterparty_address`."""

    city_name: str = Field(None, min_length=1)
    state_name: str = Field(None, min_length=1)
    country_iso_code: str = Field(None, min_length=1)
    zipcode: str = Field(None, min_length=1)
    line_one: str = Field(None, min_length=1)
    is_primary: bool = None


class ExternalCounterpartyContactCreateRequest(_Request):
    """Request body of `create_counterparty_contact`."""

    name: str = Field(..., min_length=1)
    email: str
    is_primary: bool


class ExternalCounterpartyContactBulkUpdateRequest(_Request):
    """Part of a request body."""

    name: str = Field(None, min_length=1)
    email: str = None
    is_primary: bool = None
    id: int


class PatchedExternalCounterpartyContactBulkUpdateListRequest(_Request):
    """Request body of `bulk_update_counterparty_contacts`."""

    contacts: list[ExternalCounterpartyContactBulkUpdateRequest]


class PatchedExternalCounterpartyContactUpdateRequest(_Request):
    """Request body of `update_counterparty_contact`."""

    name: str = Field(None, min_length=1)
    email: str = None
    is_primary: bool = None


class ListFieldNameMappingViewRequest(_Request):
    """Request body of `get_key_pointer_field_mapping`."""

    contract_id: int = None
    contract_type_id: int = None
    old_field_names: list[str] = None
    new_field_names: list[str] = None


class CreateOrganizationEntityRequestPrimaryAddress(_Request):
    """Part of a request body."""

    line_one: str
    city_name: str
    state_name: str
    zipcode: str
    country_iso_code: str


class CreateOrganizationEntityRequest(_Request):
    """Request body of `create_organization_entity`."""

    name: str = Field(..., min_length=1)
    reference_id: str
    jurisdiction_iso_code: str
    organization_type_id: int
    is_primary: bool
    primary_address: CreateOrganizationEntityRequestPrimaryAddress


class SidebarFileUploadRequestFields(_Request):
    """Form fields of `upload_sidebar_file`; the file itself goes as a multipart part."""

    upload_source: UploadSourceEnum
    entity_id: str
    webhook_url: str | None = Field(None, pattern="^https://")


class SidebarWebSources(_Request):
    """Part of a request body."""

    open: bool = None
    indian: bool = None
    eu: bool = None
    us: bool = None


class SidebarLawSources(_Request):
    """Part of a request body."""

    us: bool = None


class SidebarSources(_Request):
    """Part of a request body."""

    web: SidebarWebSources = None
    law: SidebarLawSources = None
    clm_connector: bool = None


class SidebarFileContext(_Request):
    """Part of a request body."""

    file_id: str
    file_name: str
    version_number: int | None = None


class SidebarContractContext(_Request):
    """Part of a request body."""

    contract_id: str
    contract_name: str


class SidebarTableContext(_Request):
    """Part of a request body."""

    table_id: str
    table_name: str


class SidebarQueryRequest(_Request):
    """Request body of `run_sidebar_query`."""

    user_input: str
    chat_id: str | None = None
    webhook_url: str | None = Field(None, pattern="^https://")
    sources: SidebarSources = None
    deep_research: bool = None
    files: list[SidebarFileContext] = None
    contracts: list[SidebarContractContext] = None
    agent_context: list[str] = None
    tables: list[SidebarTableContext] = None
    agent_id: str | None = None


class PublicSupportedDocumentCreateAPIRequest(_Request):
    """Request body of `upload_supporting_document`."""

    name: str
    file_name: str
    file_base64: str


class PatchedTemplateUpdateRequest(_Request):
    """Request body of `update_template`."""

    tags: list[str] = None


class UserTaskCreateRequest(_Request):
    """Request body of `create_user_task`."""

    title: str = Field(..., min_length=1)
    notes: str = None
    contract_id: int = None
    due_date: str = None
    due_date_key_pointer_id: int = None
    assignees: list[TaskAssigneeCreateRequest]
    reminders: list[ReminderRelativeTime] = None
    task_category: TaskCategoryEnum = None
    priority: PriorityEnum = None
    intake_task_status: IntakeTaskStatusEnum = None
    task_associations: list[TaskAssociationCreateRequest] = None


class PublicWebhookCreateRequest(_Request):
    """Request body of `create_webhook`."""

    title: str = Field(..., min_length=1)
    description: str = None
    custom_headers: dict[str, Any] = None
    only_for_activities: list[OnlyForActivitiesEnum]
    url: str = Field(..., min_length=1)


class FeatureFlagsCheckRequest(_Request):
    """Request body of `check_workspace_feature_flags`."""

    flags: list[str]


class WorkspaceFileUploadInitiationRequestItem(_Request):
    """Part of a request body."""

    filename: str = Field(..., min_length=1)
    content_type: str = Field(..., min_length=1)


class WorkspaceFileUploadInitiationRequest(_Request):
    """Request body of `start_workspace_file_uploads`."""

    files: list[WorkspaceFileUploadInitiationRequestItem] = Field(..., min_length=1, max_length=50)


class PublicTagCreateRequest(_Request):
    """Part of a request body."""

    name: str = Field(..., min_length=1, max_length=100)
    colour_code: str = Field(None, max_length=10)
    tag_entity_type: TagEntityType = None


class PublicBulkTagCreateRequest(_Request):
    """Request body of `create_workspace_tags`."""

    tags: list[PublicTagCreateRequest] = Field(..., min_length=1)


class PatchedExternalUserEdit(_Request):
    """Request body of `update_user`."""

    roles: list[int] = None


class LegalIntakeAssigneePublicCreateRequest(_Request):
    """Part of a request body."""

    entity_id: str = Field(..., min_length=1)
    entity_type: EntityTypeEnum
    assignee_type: LegalIntakeAssigneeType


class LegalIntakePublicCreateRequest(_Request):
    """Request body of `create_legal_intake`."""

    title: str = Field(..., min_length=1, max_length=255)
    description: str | None = None
    priority: LegalIntakePriority = None
    due_date: str | None = None
    assignees: list[LegalIntakeAssigneePublicCreateRequest] | None = None
    metadata: dict[str, Any] | None = None
    workflow_id: int
    file_ids: list[str] | None = None


class PatchedLegalIntakePublicUpdateRequest(_Request):
    """Request body of `update_legal_intake`."""

    title: str | None = None
    description: str | None = None
    status: LegalIntakeStatus | None = None
    priority: LegalIntakePriority | None = None
    due_date: str | None = None
    metadata: dict[str, Any] | None = None
    assignees: list[LegalIntakeAssigneePublicCreateRequest] | None = None


class CreateContractsForCoupaIntegrationRequest(_Request):
    """Request body of `queue_native_integration_contracts`."""

    integration_solution_entity_id: IntegrationSolutionEntityIdEnum = None
    record_id: str = Field(..., min_length=1)
    coupa_approval_id: str = Field(..., min_length=1)


class PerformedBy(_Request):
    """Part of a request body."""

    name: str
    email: str = None


class ActivityData(_Request):
    """Part of a request body."""

    performed_by: PerformedBy
    timestamp: str


class BusinessUser(_Request):
    """Part of a request body."""

    name: str
    email: str = None


class LegalUser(_Request):
    """Part of a request body."""

    name: str
    email: str = None


class ContractActivityCounterparty(_Request):
    """Part of a request body."""

    type: str
    organization_name: str = None
    poc_name: str = None
    poc_email: str = None
    counterparty_id: int = None


class Entity(_Request):
    """Part of a request body."""

    reference_id: str
    name: str
    jurisdiction: str
    type: str


class ContractActivityDomainModel(_Request):
    """Request body of `send_sample_webhook`."""

    activity_data: ActivityData
    activity: ActivityEnum
    contract_id: int
    contract_title: str
    contract_type: str
    contract_type_name: str
    contract_type_id: int
    contract_status: str
    contract_kind: ContractActivityDomainModelContractKindEnum
    business_user: BusinessUser
    legal_user: LegalUser = None
    created_at: str
    counterparties: list[ContractActivityCounterparty] = None
    external_metadata: dict[str, Any] = None
    entity: Entity = None
    contract_reference_id: str = None
    contract_template_id: int = None
