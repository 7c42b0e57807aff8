"""Files in and out: uploads read from a local path (or bytes), downloads stream to a local path.

A download never sits whole in memory: the streamed answer is written chunk by chunk to a
temporary file next to the destination, which is renamed into place only once complete, so a
dropped connection leaves no half-written file under the final name.

Uploads come in two shapes in SpotDraft's API: most take the file base64-encoded in a JSON field
(`base64_upload`), Sidebar takes a multipart file part (`open_upload`, which hands httpx an open
file so the body is streamed, and rewound if the request is sent again). Workspace files go to a
signed storage URL as the raw body of a PUT (`upload_stream`, also streamed from disk).
"""

from __future__ import annotations

import base64
import contextlib
import io
import mimetypes
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx

FileInput = str | os.PathLike[str] | bytes
_DISPOSITION_NAME = re.compile(r"""filename\*?=(?:UTF-8'')?["']?([^"';]+)""", re.IGNORECASE)


def download_to(response: httpx.Response, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Stream `response` to `path` (a file, or an existing directory to put it in); always closes it.

    Returns the path written, the number of bytes and the content type.
    """
    try:
        target = Path(path)
        if target.is_dir():
            target = target / _filename_from(response)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    size += len(chunk)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    finally:
        response.close()
    content_type = response.headers.get("content-type", "").split(";")[0].strip() or None
    return {"path": str(target), "bytes": size, "content_type": content_type}


def _filename_from(response: httpx.Response) -> str:
    match = _DISPOSITION_NAME.search(response.headers.get("content-disposition", ""))
    name = os.path.basename(match.group(1).strip()) if match else ""
    if name in ("", ".", ".."):
        ext = mimetypes.guess_extension(response.headers.get("content-type", "").split(";")[0].strip()) or ""
        name = f"download{ext}"
    return name


def describe_upload(file: FileInput, file_name: str | None = None, content_type: str | None = None) -> tuple[str, str]:
    """(file name, content type) of an upload, the type guessed from the name when not given.

    Raises ValueError before anything is sent when the file is not there or has no name.
    """
    if isinstance(file, bytes | bytearray):
        if not file_name:
            raise ValueError("file_name is required when the file is given as bytes")
        name = file_name
    else:
        if not Path(file).exists() or Path(file).is_dir():  # a pipe or device is fine: it is read as a stream
            raise ValueError(f"no file to upload at {os.fspath(file)!r}")
        name = file_name or Path(file).name
    return name, content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"


def read_upload(file: FileInput, file_name: str | None = None) -> tuple[str, bytes]:
    """(name, content) of an upload given as a local path or as bytes (then `file_name` is required)."""
    name, _ = describe_upload(file, file_name)
    return name, bytes(file) if isinstance(file, bytes | bytearray) else Path(file).read_bytes()


def base64_upload(file: FileInput, file_name: str | None = None) -> tuple[str, str]:
    """(name, base64 text) for the operations that take the file inside a JSON body."""
    name, content = read_upload(file, file_name)
    return name, base64.b64encode(content).decode("ascii")


@contextlib.contextmanager
def open_upload(
    file: FileInput, file_name: str | None = None, content_type: str | None = None
) -> Iterator[tuple[str, IO[bytes], str]]:
    """An httpx multipart file part `(name, open file, content type)`, closed on exit."""
    name, ctype = describe_upload(file, file_name, content_type)
    with upload_stream(file) as (content, _):
        yield name, io.BytesIO(content) if isinstance(content, bytes) else content, ctype


@contextlib.contextmanager
def upload_stream(file: FileInput) -> Iterator[tuple[bytes | IO[bytes], int]]:
    """(body, size) for a raw upload: the bytes themselves, or the file opened for httpx to stream."""
    if isinstance(file, bytes | bytearray):
        yield bytes(file), len(file)
        return
    with open(file, "rb") as handle:
        yield handle, os.fstat(handle.fileno()).st_size
