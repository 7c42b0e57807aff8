"""The archive's writes through a storage block: streamed to a temporary name, read back and compared (an S3 ETag,
multipart included, or the local file's sha256), and a difference found whichever way it is checked."""

from __future__ import annotations

import hashlib
import os

import pytest
from prefect.filesystems import LocalFileSystem

from flows.archive_storage import PART_BYTES, ArchiveMismatch, ArchiveStorage, Digests
from tests.support.s3 import s3_server


def chunks_of(data: bytes, size: int = 1 << 20):
    return (data[i:i + size] for i in range(0, len(data), size))


def test_an_s3_multipart_upload_is_verified_by_its_etag_and_a_different_one_is_caught():
    data = os.urandom(2 * PART_BYTES + 12345)  # three parts
    with s3_server() as s3:
        storage = ArchiveStorage(s3.block("verify"))
        digests = storage.write("T-1/2/.x.pdf.part", chunks_of(data))
        assert digests.size == len(data) and digests.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
        assert storage.verify("T-1/2/.x.pdf.part", digests) == "size, md5 (ETag)"
        other = Digests()
        other.update(data[:-1] + b"\0")  # the same size, another byte: the ETag differs, the read-back decides
        with pytest.raises(ArchiveMismatch, match="sha256"):
            storage.verify("T-1/2/.x.pdf.part", other)
        storage.rename("T-1/2/.x.pdf.part", "T-1/2/x.pdf")
        assert storage.size("T-1/2/x.pdf") == len(data) and not storage.exists("T-1/2/.x.pdf.part")


def test_a_local_file_is_read_back_and_a_short_one_is_caught(tmp_path):
    storage = ArchiveStorage(LocalFileSystem(basepath=str(tmp_path)))
    digests = storage.write("a/b.pdf", chunks_of(b"%PDF" * 1000))
    assert storage.verify("a/b.pdf", digests) == "size, sha256 (read back)"
    (tmp_path / "a" / "b.pdf").write_bytes(b"%PDF" * 999)
    with pytest.raises(ArchiveMismatch, match="3996 bytes, 4000 were streamed"):
        storage.verify("a/b.pdf", digests)
    assert storage.location == tmp_path.as_uri() and storage.block_name is None


def test_an_etag_of_another_layout_is_not_taken_for_a_mismatch():
    digests = Digests()
    digests.update(b"x" * 10)
    assert digests.etag_matches(f'"{hashlib.md5(b"x" * 10).hexdigest()}"') is True
    assert digests.etag_matches('"0123456789abcdef0123456789abcdef-7"') is None  # 7 parts of another size
    assert digests.etag_matches('"kms-encrypted"') is None
