"""Files and secrets in answers: downloads stream to a file and close (a broken one leaves none), uploads
go as a multipart part or as Base64, and fields the spec marks secret come back wrapped.
Pure logic over an `httpx.MockTransport`."""

from __future__ import annotations

import base64

import httpx
import pytest
from pydantic import SecretStr

from client import files
from client.http import SpotDraftClient
from client.result_secrets import protect_secrets
from tests.support.counting_client import counting_client


def test_download_streams_to_a_file_and_closes(tmp_path):
    chunks = [b"%PDF-1.4\n", b"x" * 70_000, b"\n%%EOF\n"]

    class Stream(httpx.SyncByteStream):
        closed = False

        def __iter__(self):
            yield from chunks

        def close(self):
            Stream.closed = True

    def handler(request):
        return httpx.Response(200, headers={"content-type": "application/pdf",
                                            "content-disposition": 'attachment; filename="T-1.pdf"'},
                              stream=Stream())

    c = SpotDraftClient("cid", "test-secret-value", base_url="https://api.example.test",
                        transport=httpx.MockTransport(handler))
    response = c.call("download_contract", path_params={"composite_id": "T-1"})
    assert isinstance(response, httpx.Response) and not response.is_closed
    result = files.download_to(response, tmp_path / "out.pdf")
    assert result == {"path": str(tmp_path / "out.pdf"), "bytes": sum(map(len, chunks)),
                      "content_type": "application/pdf"}
    assert (tmp_path / "out.pdf").read_bytes() == b"".join(chunks)
    assert response.is_closed and Stream.closed
    assert [p.name for p in tmp_path.iterdir()] == ["out.pdf"]  # no temporary file left behind
    again = files.download_to(c.call("download_contract", path_params={"composite_id": "T-1"}), tmp_path)
    assert again["path"] == str(tmp_path / "T-1.pdf")


def test_a_broken_download_leaves_no_file(tmp_path):
    class Broken(httpx.SyncByteStream):
        def __iter__(self):
            yield b"partial"
            raise httpx.ReadError("connection reset")

    response = httpx.Response(200, stream=Broken())
    with pytest.raises(httpx.ReadError):
        files.download_to(response, tmp_path / "out.pdf")
    assert list(tmp_path.iterdir()) == []


def test_multipart_upload_sends_the_file_as_a_part(tmp_path):
    c, sent = counting_client()
    source = tmp_path / "notes.txt"
    source.write_bytes(b"hello sidebar")
    body = {"entity_id": "6f1c2a4e-0000-4000-8000-000000000001", "upload_source": "chat"}
    with files.open_upload(str(source)) as part:
        c.call("upload_sidebar_file", body=body, files={"file": part})
    (request,) = sent
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    raw = request.read()
    assert b'name="file"; filename="notes.txt"' in raw and b"hello sidebar" in raw
    assert b'name="upload_source"' in raw and b"chat" in raw
    with files.open_upload(b"raw bytes", "r.pdf") as (name, handle, ctype):
        assert (name, handle.read(), ctype) == ("r.pdf", b"raw bytes", "application/pdf")
    with pytest.raises(ValueError, match="file_name"), files.open_upload(b"raw bytes"):
        pass


def test_base64_upload_reads_the_file(tmp_path):
    source = tmp_path / "signed.pdf"
    source.write_bytes(b"%PDF-1.4 signed")
    assert files.base64_upload(str(source)) == ("signed.pdf", base64.b64encode(b"%PDF-1.4 signed").decode())
    assert files.base64_upload(b"abc", "x.pdf") == ("x.pdf", "YWJj")


def test_secret_named_fields_come_back_wrapped():
    answer = {"hmac_key": "c2VjcmV0", "items": [{"token": "tok-123", "name": "n"}], "key_pointers": [1]}
    protected = protect_secrets(answer)
    assert isinstance(protected["hmac_key"], SecretStr)
    assert protected["hmac_key"].get_secret_value() == "c2VjcmV0"
    assert isinstance(protected["items"][0]["token"], SecretStr)
    assert protected["items"][0]["name"] == "n" and protected["key_pointers"] == [1]
    assert "c2VjcmV0" not in repr(protected) and "tok-123" not in repr(protected)
