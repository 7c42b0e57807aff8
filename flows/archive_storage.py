"""The user's storage, through its Prefect filesystem block: files streamed to a temporary name, read back, renamed.

`LocalFileSystem` and `RemoteFileSystem` (any fsspec URL: s3://, gs://, az://, ...) are taken; both are written
through an fsspec filesystem, a chunk at a time, never as one bytes value. While the bytes pass, their sha256
(kept) and MD5s (per part, to compare with an object store's ETag) are computed. After the write:

- the size is read back from the storage (`info`) and must match what was streamed;
- the checksum is compared where it is cheap: an S3-style ETag is the MD5 of the object, or of its parts'
  MD5s for a multipart upload (`-N`), which the part digests give; a local file is read back and hashed.
  An ETag that is not an MD5 (S3 with KMS encryption) costs a read-back of the object's sha256 instead;
  a filesystem that gives neither is checked by size.

Only then is the file renamed to its final name (os.rename locally; a server-side copy on object stores,
whose final object is checked by size again), so no reader finds a half-written file under that name.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
from prefect.filesystems import LocalFileSystem, RemoteFileSystem

from client.redaction import MASK, hide_url_secrets, scrub_text

PART_BYTES = 5 * 1024 * 1024  # an object store's upload part (S3's smallest): what a write buffers at most
READ_BYTES = 1024 * 1024
# Files of more than one part are written by one thread of the process, one at a time, whatever the run's
# concurrency: each buffers a part or two in memory (with the filesystem's copies, about 25 MB with s3fs), and
# memory freed by a thread stays with that thread's allocator arena, so big files written by four threads
# held about 70 MB. Small files (one part) are still written `concurrency` at once, by the run's threads.
_LARGE_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-large-writes")

StorageBlock = RemoteFileSystem | LocalFileSystem  # in this order: a dict of a remote block validates as one


class ArchiveMismatch(Exception):
    """What the storage holds is not what was streamed to it (size or checksum), or another file is in the way."""


@dataclass
class Digests:
    """The sha256 of a stream, and the MD5s an object store's ETag is made of (whole, and per part)."""

    size: int = 0
    sha256: Any = field(default_factory=hashlib.sha256)
    md5: Any = field(default_factory=hashlib.md5)
    parts: list[bytes] = field(default_factory=list)
    _part: Any = field(default_factory=hashlib.md5)
    _filled: int = 0

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.sha256.update(chunk)
        self.md5.update(chunk)
        view = memoryview(chunk)
        while view:
            take = min(len(view), PART_BYTES - self._filled)
            self._part.update(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == PART_BYTES:
                self.parts.append(self._part.digest())
                self._part, self._filled = hashlib.md5(), 0

    def etag_matches(self, etag: str) -> bool | None:
        """Whether an S3-style ETag is this stream's; None when it is not an MD5 of any known layout."""
        value, _, count = etag.strip().strip('"').partition("-")
        if not count:
            return value == self.md5.hexdigest() if len(value) == 32 else None
        parts = self.parts + ([self._part.digest()] if self._filled else [])
        if not count.isdigit() or int(count) != len(parts):
            return None  # parts of another size than ours: this ETag cannot be recomputed here
        return value == hashlib.md5(b"".join(parts)).hexdigest()


class ArchiveStorage:
    """One storage block as the archive uses it: where (`location`, stored with each row), and its files."""

    def __init__(self, block: Any):
        if isinstance(block, LocalFileSystem):
            base = Path(block.basepath or ".").expanduser().resolve()
            self.fs: fsspec.AbstractFileSystem = fsspec.filesystem("file")
            self.base, self.location, self.local = base.as_posix(), base.as_uri(), True
        elif isinstance(block, RemoteFileSystem):
            self.fs = block.filesystem
            self.base, self.local = block.basepath.rstrip("/"), False
            self.location = hide_url_secrets(self.base)
        else:
            raise ValueError(f"storage must be a LocalFileSystem or RemoteFileSystem block, not {type(block).__name__}")
        if MASK in self.location:
            raise ValueError("the storage's base path carries a password or key: give it in the block's settings "
                             "or the worker's environment instead")
        name = getattr(block, "_block_document_name", None)
        self.block_name = f"{block.get_block_type_slug()}/{name}" if name else None

    def __repr__(self) -> str:
        return f"ArchiveStorage({self.location!r})"

    def full(self, path: str) -> str:
        return f"{self.base}/{path}"

    @staticmethod
    def temp_path(path: str) -> str:
        """A name beside `path` no reader takes for the file: hidden, unique, ending in .part."""
        folder, _, name = path.rpartition("/")
        return f"{folder + '/' if folder else ''}.{name}.{uuid.uuid4().hex[:12]}.part"

    def check_writable(self) -> None:
        """Write and remove a small hidden file under the base path: a storage that cannot hold a file at all (no
        such bucket, a base path that is a file, no permission) is refused before any contract is asked for, rather
        than being every contract's dead letter after its download. (What a file reads back as is each file's check.)
        The flow does it for a storage nothing was archived into yet: a versioned or locked bucket keeps every
        version of what is written, so a daily run with nothing new must write nothing."""
        probe = f".spotdraft-archive-check.{uuid.uuid4().hex[:12]}.part"
        try:
            self._write(probe, [b"%PDF"], lambda: None)
        except Exception as error:
            raise ValueError(f"the storage {self.location} cannot be written ({type(error).__name__}: "
                             f"{scrub_text(str(error))[:300]}); check the block's base path and credentials") from None
        finally:
            self.remove(probe)

    def write(self, path: str, chunks: Iterable[bytes], every_chunk: Callable[[], None] = lambda: None,
              size: int | None = None) -> Digests:
        """Stream `chunks` into `path` (a new file), computing its digests on the way. A file of more than one
        part (`size`, when known) is written by the process's large-file writer (see _LARGE_WRITER)."""
        if self.local or (size is not None and size <= PART_BYTES):
            return self._write(path, chunks, every_chunk)
        return _LARGE_WRITER.submit(self._write, path, chunks, every_chunk).result()

    def _write(self, path: str, chunks: Iterable[bytes], every_chunk: Callable[[], None]) -> Digests:
        target, digests = self.full(path), Digests()
        if self.local:
            self.fs.makedirs(target.rpartition("/")[0], exist_ok=True)
        with self.fs.open(target, "wb", block_size=PART_BYTES) as out:
            for chunk in chunks:
                out.write(chunk)
                digests.update(chunk)
                every_chunk()
        return digests

    def verify(self, path: str, digests: Digests) -> str:
        """Read back what the storage holds at `path` and compare; returns what was checked, or raises."""
        info = self._info(path)
        self._same_size(path, None if info is None else int(info["size"]), digests.size)
        etag = None if self.local or info is None else _etag(info)
        if etag is not None and digests.etag_matches(etag):
            return "size, md5 (ETag)"
        if etag is None and not self.local:
            return "size"
        if self.sha256_of(path) != digests.sha256.hexdigest():
            raise ArchiveMismatch(f"{path}: the stored bytes differ from the ones downloaded (sha256)")
        return "size, sha256 (read back)"

    def check_size(self, path: str, size: int) -> None:
        self._same_size(path, self.size(path), size)

    @staticmethod
    def _same_size(path: str, stored: int | None, size: int) -> None:
        if stored != size:
            raise ArchiveMismatch(f"{path}: the storage holds {stored} bytes, {size} were streamed to it")

    def size(self, path: str) -> int | None:
        info = self._info(path)
        return None if info is None else int(info["size"])

    def _info(self, path: str) -> dict[str, Any] | None:
        try:
            return self.fs.info(self.full(path))
        except FileNotFoundError:
            return None

    def sha256_of(self, path: str) -> str:
        digest = hashlib.sha256()
        with self.fs.open(self.full(path), "rb", block_size=READ_BYTES) as source:
            while chunk := source.read(READ_BYTES):
                digest.update(chunk)
        return digest.hexdigest()

    def exists(self, path: str) -> bool:
        return self.size(path) is not None

    def rename(self, source: str, target: str) -> None:
        """os.rename locally (atomic); on an object store, a server-side copy of the one object, then its delete
        (fsspec's `mv` would list prefixes first: twice the requests)."""
        if self.local:
            self.fs.mv(self.full(source), self.full(target))
        else:
            self.fs.cp_file(self.full(source), self.full(target))
            self.fs.rm_file(self.full(source))

    def remove(self, path: str) -> None:
        """Remove `path` if it is there; a failure here only leaves a hidden .part file behind."""
        with contextlib.suppress(FileNotFoundError, OSError):
            self.fs.rm(self.full(path))


def _etag(info: dict[str, Any]) -> str | None:
    value = info.get("ETag") or info.get("etag")
    return str(value) if value else None
