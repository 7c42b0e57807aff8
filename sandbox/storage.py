"""Workspace files: the two API operations and the signed-URL object store behind them.

SpotDraft hands out upload and download URLs signed for one object (its download example is a
Google Cloud Storage V4 URL); the bytes never pass through the API itself. The sandbox plays both
sides on its own port: `/_storage/{file_id}?expires=..&signature=..` answers PUT (store) and GET
(serve) when the signature matches the method, object and expiry, as a bucket would. Contract
documents (documents.py) are objects of the same store, `/_storage/documents/...`, signed the same way.

The store refuses any request that carries SpotDraft credentials (`client-id`, `client-secret`,
`authorization`): a real bucket would accept and ignore them, but a client that sends them there
has leaked its secret to a third party, and a test should fail loudly on it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from .wire import Reply, error, field_errors, json_reply

STORAGE_PREFIX = "/_storage/"
URL_LIFETIME_S = 15 * 60
MAX_FILES = 50
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_CREDENTIAL_HEADERS = ("client-id", "client-secret", "authorization")


@dataclass
class StoredFile:
    file_id: str
    filename: str
    content_type: str
    content: bytes | None = None  # None until the upload URL has been used


class WorkspaceFiles:
    def __init__(self, seed: int):
        self._key = os.urandom(32)
        self._ids = uuid.UUID(int=seed & ((1 << 64) - 1))  # deterministic file ids per seed
        self._count = 0
        self._lock = threading.Lock()
        self.files: dict[str, StoredFile] = {}
        self.documents: Callable[[str], Reply] | None = None  # serves documents/... objects (documents.py)

    def reset(self) -> None:
        """No file; file ids from the first again (URLs signed before no longer verify)."""
        with self._lock:
            self._key = os.urandom(32)
            self._count = 0
            self.files.clear()

    # ------------------------------------------------------------------ the API side

    def start_uploads(self, req, params, route) -> Reply:
        try:
            body = req.json()
        except ValueError:
            return error(400, "JSON parse error: the request body is missing or not valid JSON.")
        items = body.get("files") if isinstance(body, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_FILES:
            return field_errors({"files": [f"Provide between 1 and {MAX_FILES} files."]})
        problems = {}
        for i, item in enumerate(items):
            for name in ("filename", "content_type"):
                if not isinstance(item, dict) or not isinstance(item.get(name), str) or not item[name].strip():
                    problems[f"files.{i}.{name}"] = ["This field is required."]
        if problems:
            return field_errors(problems)
        expires = int(time.time()) + URL_LIFETIME_S
        answers = []
        with self._lock:
            for item in items:
                self._count += 1
                file_id = str(uuid.uuid5(self._ids, str(self._count)))
                stored = StoredFile(file_id, _normalized(item["filename"]), item["content_type"].strip())
                self.files[file_id] = stored
                answers.append({
                    "file_id": file_id,
                    "filename": stored.filename,
                    "upload_url": self.signed_url(req, "PUT", file_id, expires),
                    "expires_at": datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z"),
                })  # fmt: skip
        return json_reply(200, {"files": answers})

    def download_url(self, req, params, route) -> Reply:
        with self._lock:
            stored = self.files.get(params["file_id"])
        if stored is None or stored.content is None:
            return error(404, "File not found.")
        expires = int(time.time()) + URL_LIFETIME_S
        return json_reply(200, {"signed_url": self.signed_url(req, "GET", stored.file_id, expires)})

    # ------------------------------------------------------------------ the bucket side

    def handle_storage(self, req) -> Reply:
        if any(name in req.headers for name in _CREDENTIAL_HEADERS):
            return error(400, "Storage received SpotDraft credentials: a signed URL must be used without them.")
        file_id = req.path[len(STORAGE_PREFIX):]
        query = dict(req.query)
        if req.method not in ("PUT", "GET"):
            return error(405, f'Method "{req.method}" not allowed.', [(b"allow", b"GET, PUT")])
        try:
            expires = int(query.get("expires", ""))
        except ValueError:
            return error(403, "Malformed signed URL.")
        expected = self._signature(req.method, file_id, expires)
        if not hmac.compare_digest(expected, query.get("signature", "")):
            return error(403, "SignatureDoesNotMatch: the URL is not signed for this method and object.")
        if expires < time.time():
            return error(403, "ExpiredToken: the signed URL has expired.")
        if self.documents is not None and file_id.startswith("documents/"):
            return self.documents(file_id)  # signed for GET only: a PUT's signature never matched above
        with self._lock:
            stored = self.files.get(file_id)
            if stored is None:
                return error(404, "NoSuchKey.")
            if req.method == "GET":
                if stored.content is None:
                    return error(404, "NoSuchKey.")
                disposition = f'attachment; filename="{stored.filename}"'.encode()
                headers = [(b"content-type", stored.content_type.encode()), (b"content-disposition", disposition)]
                return Reply(200, headers, stored.content)
            sent_type = req.headers.get("content-type", "").split(";")[0].strip()
            if sent_type != stored.content_type:
                return error(403, f"SignatureDoesNotMatch: content-type {sent_type!r} is not the one signed.")
            stored.content = req.body
        return Reply(200, [(b"etag", f'"{hashlib.md5(req.body).hexdigest()}"'.encode())], b"")

    # ------------------------------------------------------------------ signing

    def _signature(self, method: str, file_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{method}\n{file_id}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def signed_url(self, req, method: str, file_id: str, expires: int) -> str:
        signature = self._signature(method, file_id, expires)
        return f"{req.scheme}://{req.host}{STORAGE_PREFIX}{quote(file_id)}?expires={expires}&signature={signature}"


def _normalized(filename: str) -> str:
    """As SpotDraft says it may: unsafe characters replaced; the name is otherwise kept."""
    return _UNSAFE_NAME.sub("_", filename.strip()) or "file"
