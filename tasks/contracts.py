"""Tasks for contracts: list, create (reconciled by external id), status, files, lifecycle.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
Hand-written tasks are in tasks/_handwritten/contracts.py and re-exported here.
"""

from __future__ import annotations

from typing import Any, Literal

from blocks import SpotDraftCredentials
from client import files
from client import models as m
from tasks._base import call_operation, spotdraft_task
from tasks._handwritten.contracts import (
    create_contract,
    list_contracts,
)

__all__ = [
    "create_contract",
    "create_contract_relations",
    "download_contract",
    "download_contract_docx",
    "get_contract_content",
    "get_contract_download_link",
    "get_contract_process_metrics",
    "get_contract_questionnaire_responses",
    "get_contract_status",
    "get_contracts_by_external_metadata",
    "get_counterparty_embedded_url",
    "get_scanned_contract_content",
    "list_contracts",
    "list_related_contracts",
    "mark_contract_for_execution",
    "preview_contract",
    "request_contract_review",
    "resend_signatory_email",
    "send_contract_to_counterparties",
    "unmark_contract_for_execution",
    "update_contract_business_user",
    "update_contract_data",
    "update_contract_intake_response",
    "upload_contract_for_review",
    "upload_contract_for_signature",
    "upload_contract_version",
    "upload_executed_contract",
    "upload_supporting_document",
    "void_contract",
]


@spotdraft_task("get_contracts_by_external_metadata")
def get_contracts_by_external_metadata(
    credentials: SpotDraftCredentials, external_metadata_id: str
) -> list[dict[str, Any]]:
    """Contracts created with this external metadata id (e.g. the CRM record id); empty when none."""
    return call_operation(
        credentials, "get_contracts_by_external_metadata", path_params={"external_metadata_id": external_metadata_id}
    )


@spotdraft_task("get_counterparty_embedded_url")
def get_counterparty_embedded_url(
    credentials: SpotDraftCredentials, contract_id: str, cp_email_id: str | None = None
) -> dict[str, Any]:
    """A short-lived signing URL to embed for a counterparty."""
    return call_operation(
        credentials,
        "get_counterparty_embedded_url",
        path_params={"contract_id": contract_id},
        query={"cp_email_id": cp_email_id},
    )


@spotdraft_task("upload_executed_contract")
def upload_executed_contract(
    credentials: SpotDraftCredentials, file: str | bytes, body: dict[str, Any], file_name: str | None = None
) -> dict[str, Any]:
    """Upload an already signed contract (PDF).

    `file` is a local path, or the bytes (then give `file_name`); it is sent base64-encoded
    as `file_content`, its name as `file_name`, with the other fields of `body`.
    """
    file_name, content = files.base64_upload(file, file_name)
    payload = {**(body or {}), "file_name": file_name, "file_content": content}
    return call_operation(credentials, "upload_executed_contract", body=payload)


@spotdraft_task("preview_contract")
def preview_contract(
    credentials: SpotDraftCredentials, body: m.GenerateContractPreviewRequest | dict[str, Any], destination: str
) -> dict[str, Any]:
    """Render a template with data to a PDF, creating nothing.

    Streams the file to `destination` (a file path, or a directory to put it in) and returns
    its path, size in bytes and content type.
    """
    return call_operation(credentials, "preview_contract", body=body, stream_to=destination)


@spotdraft_task("upload_contract_for_review")
def upload_contract_for_review(
    credentials: SpotDraftCredentials, file: str | bytes, body: dict[str, Any], file_name: str | None = None
) -> dict[str, Any]:
    """Upload a third-party contract for legal review.

    `file` is a local path, or the bytes (then give `file_name`); it is sent base64-encoded
    as `file_base64`, its name as `file_name`, with the other fields of `body`.
    """
    file_name, content = files.base64_upload(file, file_name)
    payload = {**(body or {}), "file_name": file_name, "file_base64": content}
    return call_operation(credentials, "upload_contract_for_review", body=payload)


@spotdraft_task("upload_contract_for_signature")
def upload_contract_for_signature(
    credentials: SpotDraftCredentials, file: str | bytes, body: dict[str, Any], file_name: str | None = None
) -> dict[str, Any]:
    """Upload a contract (PDF) and send it for signature.

    `file` is a local path, or the bytes (then give `file_name`); it is sent base64-encoded
    as `file_base64`, its name as `file_name`, with the other fields of `body`.
    """
    file_name, content = files.base64_upload(file, file_name)
    payload = {**(body or {}), "file_name": file_name, "file_base64": content}
    return call_operation(credentials, "upload_contract_for_signature", body=payload)


@spotdraft_task("get_contract_content")
def get_contract_content(
    credentials: SpotDraftCredentials,
    composite_id: str,
    contract_version_id: int | None = None,
    text_format: Literal["segments", "text"] | None = None,
) -> dict[str, Any]:
    """The text of a contract, whole or in segments."""
    return call_operation(
        credentials,
        "get_contract_content",
        path_params={"composite_id": composite_id},
        query={"contract_version_id": contract_version_id, "text_format": text_format},
    )


@spotdraft_task("get_scanned_contract_content")
def get_scanned_contract_content(
    credentials: SpotDraftCredentials, composite_id: str, contract_version_id: int | None = None
) -> dict[str, Any]:
    """The OCR text of a scanned contract."""
    return call_operation(
        credentials,
        "get_scanned_contract_content",
        path_params={"composite_id": composite_id},
        query={"contract_version_id": contract_version_id},
    )


@spotdraft_task("download_contract")
def download_contract(credentials: SpotDraftCredentials, composite_id: str, destination: str) -> dict[str, Any]:
    """Download a contract's current file to a local path.

    Streams the file to `destination` (a file path, or a directory to put it in) and returns
    its path, size in bytes and content type.
    """
    return call_operation(
        credentials, "download_contract", path_params={"composite_id": composite_id}, stream_to=destination
    )


@spotdraft_task("get_contract_download_link")
def get_contract_download_link(
    credentials: SpotDraftCredentials, composite_id: str, body: m.DownloadLinkRequest | dict[str, Any] | None = None
) -> dict[str, Any]:
    """A temporary URL to a contract's current file."""
    return call_operation(
        credentials, "get_contract_download_link", path_params={"composite_id": composite_id}, body=body
    )


@spotdraft_task("update_contract_intake_response")
def update_contract_intake_response(
    credentials: SpotDraftCredentials, composite_id: str, body: m.PatchedIntakeFormData | dict[str, Any] | None = None
) -> dict[str, Any]:
    """Change answers of a contract's intake form."""
    return call_operation(
        credentials, "update_contract_intake_response", path_params={"composite_id": composite_id}, body=body
    )


@spotdraft_task("mark_contract_for_execution")
def mark_contract_for_execution(
    credentials: SpotDraftCredentials, composite_id: str, body: m.MarkForExecutionRequest | dict[str, Any] | None = None
) -> Any:
    """Move a contract to signing."""
    return call_operation(
        credentials, "mark_contract_for_execution", path_params={"composite_id": composite_id}, body=body
    )


@spotdraft_task("send_contract_to_counterparties")
def send_contract_to_counterparties(
    credentials: SpotDraftCredentials, composite_id: str, body: m.SendToCounterparty | dict[str, Any]
) -> Any:
    """Email a contract to its counterparties."""
    return call_operation(
        credentials, "send_contract_to_counterparties", path_params={"composite_id": composite_id}, body=body
    )


@spotdraft_task("resend_signatory_email")
def resend_signatory_email(
    credentials: SpotDraftCredentials, composite_id: str, body: m.CreateSignatoryResendEmailAPIRequest | dict[str, Any]
) -> Any:
    """Email a signatory their signing request again."""
    return call_operation(credentials, "resend_signatory_email", path_params={"composite_id": composite_id}, body=body)


@spotdraft_task("get_contract_status")
def get_contract_status(credentials: SpotDraftCredentials, composite_id: str) -> dict[str, Any]:
    """Status and name of one contract, by composite id such as T-123 or H-123."""
    return call_operation(credentials, "get_contract_status", path_params={"composite_id": composite_id})


@spotdraft_task("void_contract")
def void_contract(
    credentials: SpotDraftCredentials, composite_id: str, body: m.VoidContractRequestData | dict[str, Any]
) -> None:
    """Void a contract."""
    call_operation(credentials, "void_contract", path_params={"composite_id": composite_id}, body=body)


@spotdraft_task("unmark_contract_for_execution")
def unmark_contract_for_execution(
    credentials: SpotDraftCredentials,
    composite_id: str,
    body: m.ContractUnMarkForExecutionRequest | dict[str, Any] | None = None,
) -> Any:
    """Take a contract out of signing."""
    return call_operation(
        credentials, "unmark_contract_for_execution", path_params={"composite_id": composite_id}, body=body
    )


@spotdraft_task("update_contract_business_user")
def update_contract_business_user(
    credentials: SpotDraftCredentials,
    contract_id: int,
    body: m.PatchedExternalUpdateContractBusinessUserRequest | dict[str, Any],
) -> dict[str, Any]:
    """Change the business owner of a contract."""
    return call_operation(
        credentials, "update_contract_business_user", path_params={"contract_id": contract_id}, body=body
    )


@spotdraft_task("update_contract_data")
def update_contract_data(
    credentials: SpotDraftCredentials, contract_id: str, body: m.PatchedContractDataUpdateRequest | dict[str, Any]
) -> dict[str, Any]:
    """Change the template field values of a contract."""
    return call_operation(credentials, "update_contract_data", path_params={"contract_id": contract_id}, body=body)


@spotdraft_task("create_contract_relations")
def create_contract_relations(
    credentials: SpotDraftCredentials, contract_id: int, body: m.ExternalContractRelationCreateRequest | dict[str, Any]
) -> dict[str, Any]:
    """Link a contract to related contracts."""
    return call_operation(credentials, "create_contract_relations", path_params={"contract_id": contract_id}, body=body)


@spotdraft_task("upload_contract_version")
def upload_contract_version(
    credentials: SpotDraftCredentials,
    contract_id: int,
    file: str | bytes,
    body: dict[str, Any] | None = None,
    file_name: str | None = None,
) -> Any:
    """Upload a new version of a contract's document.

    `file` is a local path, or the bytes (then give `file_name`); it is sent base64-encoded
    as `document_base_64`, its name as `document_name`, with the other fields of `body`.
    """
    file_name, content = files.base64_upload(file, file_name)
    payload = {**(body or {}), "document_name": file_name, "document_base_64": content}
    return call_operation(
        credentials, "upload_contract_version", path_params={"contract_id": contract_id}, body=payload
    )


@spotdraft_task("download_contract_docx")
def download_contract_docx(
    credentials: SpotDraftCredentials,
    contract_id: int,
    destination: str,
    body: m.PublicDownloadContractDocxRequest | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Download a contract as DOCX to a local path.

    Streams the file to `destination` (a file path, or a directory to put it in) and returns
    its path, size in bytes and content type.
    """
    return call_operation(
        credentials,
        "download_contract_docx",
        path_params={"contract_id": contract_id},
        body=body,
        stream_to=destination,
    )


@spotdraft_task("get_contract_process_metrics")
def get_contract_process_metrics(credentials: SpotDraftCredentials, contract_id: int) -> dict[str, Any]:
    """Timing metrics of a contract's workflow."""
    return call_operation(credentials, "get_contract_process_metrics", path_params={"contract_id": contract_id})


@spotdraft_task("get_contract_questionnaire_responses")
def get_contract_questionnaire_responses(
    credentials: SpotDraftCredentials, contract_id: int, questionnaire_type: str
) -> dict[str, Any]:
    """Answers given to a contract's questionnaire."""
    return call_operation(
        credentials,
        "get_contract_questionnaire_responses",
        path_params={"contract_id": contract_id},
        query={"questionnaire_type": questionnaire_type},
    )


@spotdraft_task("list_related_contracts")
def list_related_contracts(
    credentials: SpotDraftCredentials, contract_id: int, page: int = 1, limit: int = 100
) -> dict[str, Any]:
    """One page of contracts linked to a contract.

    The answer carries `total_results`, `page`, `limit` and `results`.
    """
    return call_operation(
        credentials,
        "list_related_contracts",
        path_params={"contract_id": contract_id},
        query={"limit": limit, "page": page},
    )


@spotdraft_task("request_contract_review")
def request_contract_review(
    credentials: SpotDraftCredentials,
    contract_id: int,
    body: m.ReviewRequestCreateRequest | dict[str, Any] | None = None,
) -> Any:
    """Open a legal review task on a contract."""
    return call_operation(credentials, "request_contract_review", path_params={"contract_id": contract_id}, body=body)


@spotdraft_task("upload_supporting_document")
def upload_supporting_document(
    credentials: SpotDraftCredentials,
    contract_id: str,
    file: str | bytes,
    body: dict[str, Any],
    file_name: str | None = None,
) -> dict[str, Any]:
    """Attach a supporting document to a contract.

    `file` is a local path, or the bytes (then give `file_name`); it is sent base64-encoded
    as `file_base64`, its name as `file_name`, with the other fields of `body`.
    """
    file_name, content = files.base64_upload(file, file_name)
    payload = {**(body or {}), "file_name": file_name, "file_base64": content}
    return call_operation(
        credentials, "upload_supporting_document", path_params={"contract_id": contract_id}, body=payload
    )
