"""Real document files of any size, made on the fly: the same bytes for the same seed, never held whole.

A PDF is a valid one-page document (Helvetica text: the contract's name and version) followed by an
unreferenced stream object of seeded random bytes that brings the file to the size asked for, then a
correct cross-reference table: any PDF reader opens it. A DOCX is a small real Word file (a zip).
Both come as a `Streamed` body: its length known up front, its chunks made as they are sent.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator

from .wire import Streamed

CHUNK = 1 << 20
PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _text(line: str) -> bytes:
    """A PDF literal string: Latin-1 (others become ?), with its delimiters escaped."""
    raw = line.encode("latin-1", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _random_chunks(seed: bytes, size: int) -> Iterator[bytes]:
    """`size` seeded random bytes, a chunk at a time (SHAKE-128 of the seed and the chunk's number: about
    250 MB/s, so the sandbox is never a benchmark's bottleneck)."""
    for number, start in enumerate(range(0, size, CHUNK)):
        yield hashlib.shake_128(seed + b":%d" % number).digest(min(CHUNK, size - start))


def pdf(lines: list[str], seed: bytes, size: int) -> Streamed:
    """A valid PDF of exactly `size` bytes (or the smallest one, a few hundred bytes, when `size` is less)."""
    content = b"BT /F1 14 Tf 72 720 Td " + b" 0 -22 Td ".join(_text(line) + b" Tj" for line in lines) + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    head = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(head))
        head += b"%d 0 obj\n" % number + body + b"\nendobj\n"

    def layout(padding: int, spaces: int) -> tuple[bytes, bytes]:
        """(the padding object's opening, everything after its bytes) for `padding` random bytes."""
        opening = b"6 0 obj\n<< /Length %d >>\nstream\n" % padding
        xref_at = len(head) + len(opening) + padding + len(b"\nendstream\nendobj\n")
        table = b"".join(b"%010d 00000 n \n" % at for at in [*offsets, len(head)])
        tail = (b"\nendstream\nendobj\nxref\n0 7\n0000000000 65535 f \n" + table
                + b"trailer\n<< /Size 7 /Root 1 0 R" + b" " * spaces + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at)
        return opening, tail

    padding = 0
    for _ in range(3):  # the lengths written in the file depend (a little) on the padding's own length
        opening, tail = layout(padding, 0)
        padding = max(0, size - len(head) - len(opening) - len(tail))
    opening, tail = layout(padding, 0)
    spaces = size - len(head) - len(opening) - padding - len(tail)
    if spaces < 0 and padding:  # a digit more in the lengths: one byte less of padding, spaces fill the rest
        padding -= 1
        opening, tail = layout(padding, 0)
        spaces = size - len(head) - len(opening) - padding - len(tail)
    opening, tail = layout(padding, max(0, spaces))
    prefix = bytes(head) + opening

    def chunks() -> Iterator[bytes]:
        yield prefix
        yield from _random_chunks(seed, padding)
        yield tail

    return Streamed(len(prefix) + padding + len(tail), chunks)


def docx(lines: list[str]) -> Streamed:
    """A small, valid Word document holding `lines` as paragraphs."""
    def escaped(line: str) -> str:
        return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    paragraphs = "".join(f"<w:p><w:r><w:t>{escaped(line)}</w:t></w:r></w:p>" for line in lines)
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
            '"/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.'
            'document.main+xml"/></Types>'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            f'wordprocessingml/2006/main"><w:body>{paragraphs}</w:body></w:document>'),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))  # the same bytes every time
            archive.writestr(info, text, compress_type=zipfile.ZIP_DEFLATED)
    return Streamed.of(buffer.getvalue())
