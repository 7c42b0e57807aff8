"""The sandbox's contract documents: real files of the size asked for, a signed link per version that expires, and
the controls a test changes them with (a new version, link lifetimes), over HTTP as a client sees them."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest

from sandbox.pdf import docx, pdf


@pytest.mark.parametrize("size", [0, 700, 5_000, 99_999, 100_000, 1_048_577])
def test_a_pdf_is_valid_and_exactly_the_size_asked_for(size):
    body = pdf(["Mutual NDA (T-1001)", "version 3 (\u00e9)"], b"seed", size)
    data = b"".join(body.chunks())
    assert len(data) == body.length == max(size, len(data)) and data.startswith(b"%PDF-1.7")
    assert data == b"".join(pdf(["Mutual NDA (T-1001)", "version 3 (\u00e9)"], b"seed", size).chunks())
    xref = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data).group(1))
    assert data[xref:].startswith(b"xref\n0 7\n")
    offsets = [int(line[:10]) for line in data[xref:].split(b"\n")[3:9]]
    assert [data[at:].split(b"\n", 1)[0] for at in offsets] == [b"%d 0 obj" % n for n in range(1, 7)]


def test_a_docx_is_a_word_file():
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(b"".join(docx(["A & <B>"]).chunks()))) as archive:
        assert "A &amp; &lt;B&gt;" in archive.read("word/document.xml").decode()


def link(sb, composite_id: str, **body) -> httpx.Response:
    return httpx.post(f"{sb.base_url}/api/v2.1/public/contracts/{composite_id}/download_link", headers=sb.headers,
                      json=body or None)


def test_a_link_serves_the_current_version_and_expires(sandbox):
    contract = next(c for c in sandbox.snapshot() if c["kind"] == "T")
    answer = link(sandbox, contract["composite_id"]).json()
    file = httpx.get(answer["url"])
    described = sandbox.document(contract["id"])
    assert (answer["current_version_id"], answer["file_name"]) == (described["version_id"], described["file_name"])
    assert hashlib.sha256(file.content).hexdigest() == described["sha256"]
    assert file.headers["content-type"] == "application/pdf" and "client-secret" not in answer["url"]

    new = sandbox.new_version(contract["id"], size=300_000, file_name='a/b "c"\n')
    second = link(sandbox, contract["composite_id"]).json()
    assert second["current_version_id"] == new["version_id"] != answer["current_version_id"]
    assert len(httpx.get(second["url"]).content) == 300_000 == new["bytes"]
    assert hashlib.sha256(httpx.get(answer["url"]).content).hexdigest() == described["sha256"]  # old: still there

    sandbox.set_download_links(-60)
    expired = httpx.get(link(sandbox, contract["composite_id"]).json()["url"])
    assert expired.status_code == 403 and "ExpiredToken" in expired.text
    tampered = answer["url"].replace(f"/{answer['current_version_id']}.pdf", f"/{new['version_id']}.pdf")
    assert httpx.get(tampered).status_code == 403  # signed for one object


def test_formats_docx_only_for_template_contracts_and_the_file_itself(sandbox):
    template = next(c for c in sandbox.snapshot() if c["kind"] == "T")
    historical = next(c for c in sandbox.snapshot() if c["kind"] == "H")
    docx_link = link(sandbox, template["composite_id"], format="DOCX").json()
    assert docx_link["file_name"].endswith(".docx") and httpx.get(docx_link["url"]).content.startswith(b"PK")
    assert link(sandbox, historical["composite_id"], format="DOCX").status_code == 400
    fallback = link(sandbox, historical["composite_id"], format="DOCX_WITH_FALLBACK_TO_PDF").json()
    assert fallback["file_name"].endswith(".pdf")
    assert link(sandbox, template["composite_id"], format="XLS").status_code == 400
    direct = httpx.post(f"{sandbox.base_url}/api/v2.1/public/contracts/{template['composite_id']}/download",
                        headers=sandbox.headers)
    assert hashlib.sha256(direct.content).hexdigest() == sandbox.document(template["id"])["sha256"]


def test_a_new_version_is_announced_to_subscribers(sandbox):
    received = []
    sandbox.state.on_activity = lambda contract, activity, performer: received.append((contract.id, activity))
    contract = sandbox.snapshot()[0]
    sandbox.new_version(contract["id"])
    assert received == [(contract["id"], "CONTRACT_VERSION_UPLOADED")]
