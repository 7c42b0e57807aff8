"""Contract documents: the download link, the file itself, and the signed store serving each version's file.

Every contract has versions (records.Version: data.py makes one with each contract and `new_version` adds
more); each version's file is made when it is sent (pdf.py), the same bytes every time, never stored.
`get_contract_download_link` answers SpotDraft's `DownloadUrl`: a URL signed for that version's file on the
sandbox's object store (storage.py signs it, as it signs workspace files), its `file_name` and the
`current_version_id`; `download_contract` answers the current PDF itself. A link lives `link_lifetime_s`
(negative: expired on arrival); a download broken off midway is the script's "cut" on `/_storage/documents/`.

Formats: PDF for every contract. DOCX only for template contracts (T-): a historical contract (H-) was
uploaded as a signed PDF, so DOCX is refused (400) and DOCX_WITH_FALLBACK_TO_PDF gives its PDF.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from .data import SandboxState
from .pdf import DOCX_TYPE, PDF_TYPE, Streamed, docx, pdf
from .records import Contract, Version
from .storage import URL_LIFETIME_S, WorkspaceFiles
from .wire import Reply, error, field_errors, json_reply

DOCUMENTS = "documents/"  # object ids of contract files on the signed store: documents/T-1001/7.pdf
FORMATS = ("PDF", "DOCX", "DOCX_WITH_FALLBACK_TO_PDF")
_OBJECT = re.compile(r"^documents/([TH]-\d+)/(\d+)\.(pdf|docx)$")


class Documents:
    def __init__(self, state: SandboxState, files: WorkspaceFiles, contract_of: Callable[[dict[str, str]], Contract]):
        self.state = state
        self.files = files
        self.contract_of = contract_of  # the handlers' look-up of a path's contract (400/404 as the API answers)
        self.link_lifetime_s: float = URL_LIFETIME_S
        files.documents = self.serve

    def reset(self) -> None:
        self.link_lifetime_s = URL_LIFETIME_S

    def table(self) -> dict[tuple[str, str], Any]:
        table: dict[tuple[str, str], Any] = {}
        for version, key in (("v2.1", "composite_id"), ("v2", "composite_id"), ("v1", "contract_id")):
            table[("POST", f"/api/{version}/public/contracts/{{{key}}}/download_link")] = self.download_link
        table[("POST", "/api/v2.1/public/contracts/{composite_id}/download")] = self.download
        return table

    # ------------------------------------------------------------------ the API side

    def download_link(self, req, params, route) -> Reply:
        asked = "PDF"
        if req.body:
            try:
                body = req.json()
            except ValueError:
                return error(400, "JSON parse error: the request body is not valid JSON.")
            if not isinstance(body, dict):
                return error(400, "The request body must be a JSON object.")
            asked = body.get("format") or "PDF"
            if asked not in FORMATS:
                return field_errors({"format": [f'"{asked}" is not a valid choice.']})
        with self.state.lock:
            contract = self.contract_of(params)
            version = contract.versions[-1]
            kind = _kind(contract, asked)
            if kind is None:
                return field_errors({"format": ["DOCX is not available for this contract: it was uploaded as a PDF."]})
            expires = int(time.time() + self.link_lifetime_s)
            url = self.files.signed_url(req, "GET", f"{DOCUMENTS}{contract.composite_id}/{version.id}.{kind}", expires)
            return json_reply(200, {"url": url, "file_name": f"{version.file_name}.{kind}",
                                    "current_version_id": version.id})

    def download(self, req, params, route) -> Reply:
        with self.state.lock:
            contract = self.contract_of(params)
            return _file_reply(contract, contract.versions[-1], "pdf", self.state.workspace_id)

    # ------------------------------------------------------------------ the bucket side (after storage.py's checks)

    def serve(self, object_id: str) -> Reply:
        match = _OBJECT.match(object_id)
        with self.state.lock:
            contract = self.state.get(match.group(1)) if match else None
            version = next((v for v in contract.versions if v.id == int(match.group(2))), None) if contract else None
            if match is None or contract is None or version is None:
                return error(404, "NoSuchKey.")
            return _file_reply(contract, version, match.group(3), self.state.workspace_id)

    # ------------------------------------------------------------------ what a test compares with

    def describe(self, key: int | str, format: str = "PDF", version_id: int | None = None) -> dict[str, Any]:
        """The file a download link of `format` gives (the current version's, or `version_id`'s)."""
        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}")
        with self.state.lock:
            contract = self.state.get(key)
            if contract is None:
                raise KeyError(f"no contract {key!r}")
            version = contract.versions[-1] if version_id is None else next(
                (v for v in contract.versions if v.id == version_id), None)
            if version is None:
                raise KeyError(f"contract {key!r} has no version {version_id}")
            kind = _kind(contract, format)
            if kind is None:
                raise ValueError("DOCX is not available for this contract")
            body, content_type = _file(contract, version, kind, self.state.workspace_id)
        return {"contract_id": contract.composite_id, "version_id": version.id, "versions": len(contract.versions),
                "file_name": f"{version.file_name}.{kind}", "bytes": body.length, "sha256": body.sha256(),
                "content_type": content_type}


def _kind(contract: Contract, asked: str) -> str | None:
    """The file kind a format gives for this contract (pdf, docx), or None when it has no such file."""
    if asked == "PDF":
        return "pdf"
    if contract.kind == "T":
        return "docx"
    return "pdf" if asked == "DOCX_WITH_FALLBACK_TO_PDF" else None


def _file(contract: Contract, version: Version, kind: str, workspace_id: int) -> tuple[Streamed, str]:
    lines = [contract.name, f"{contract.composite_id}, version {version.id}", f"Status: {contract.status}"]
    if kind == "docx":
        return docx(lines), DOCX_TYPE
    seed = f"{workspace_id}:{contract.composite_id}:{version.id}".encode()
    return pdf(lines, seed, version.size), PDF_TYPE


def _file_reply(contract: Contract, version: Version, kind: str, workspace_id: int) -> Reply:
    body, content_type = _file(contract, version, kind, workspace_id)
    # RFC 6266's filename* carries any name (a hostile one with quotes or line breaks too) as UTF-8, escaped.
    disposition = f"attachment; filename*=UTF-8''{quote(f'{version.file_name}.{kind}', safe='')}"
    return Reply(200, [(b"content-type", content_type.encode()), (b"content-disposition", disposition.encode())], body)
