"""Where an archived file goes: `path_template`, checked before any request, filled with sanitised values.

Fields: `{contract_id}` (SpotDraft's composite id, T-123 or H-123), `{version_id}` (the contract's
current_version_id), `{file_name}` (SpotDraft's, extension included) and `{format}` (pdf or docx, the
file's kind). A template must hold `{contract_id}` and `{version_id}`: each version of each contract then
has a path of its own, so a new version is written beside the old one and never over it.

Every value is untrusted (SpotDraft names the file; a name may hold `../`, a NUL, a line break or a
right-to-left override): separators become `_`, control and format characters go, a value of dots
alone becomes `_`, so does a leading `~` (Office's lock files are ~$Name.docx), and the file name is
cut (its extension kept) so that its path segment holds at most 200 bytes; the ids beside it in the
segment are never cut. The template itself is refused when it would leave the storage's base path:
absolute, `..` or `.` segments, backslashes, control characters, empty segments, unknown fields, or
format specs (`{version_id:>5}`).
"""

from __future__ import annotations

import string
import unicodedata

FIELDS = ("contract_id", "version_id", "file_name", "format")
REQUIRED = ("contract_id", "version_id")
DEFAULT_TEMPLATE = "{contract_id}/{version_id}/{file_name}"
MAX_TEMPLATE_CHARS = 500
MAX_SEGMENT_BYTES = 200  # file systems allow 255 per name; the temporary name adds a prefix and a suffix
_EXTENSION_CHARS = 12


def check_template(template: str) -> str:
    """The template as given, or ValueError saying what is wrong with it (before any request is sent)."""
    if not isinstance(template, str) or not template.strip():
        raise ValueError("path_template is empty: give one such as " + DEFAULT_TEMPLATE)
    if len(template) > MAX_TEMPLATE_CHARS:
        raise ValueError(f"path_template is longer than {MAX_TEMPLATE_CHARS} characters")
    if _unfit(template) or "\\" in template:
        raise ValueError("path_template holds a control character or a backslash; use / between folders")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"path_template does not parse ({error}); write a literal brace as {{{{ or }}}}") from None
    named = [field for _, field, _, _ in parsed if field is not None]
    unknown = sorted({f for f in named if f not in FIELDS})
    if unknown:
        raise ValueError(f"path_template names unknown field(s) {', '.join(unknown)}; the fields are "
                         + ", ".join("{" + f + "}" for f in FIELDS))
    if any(spec or conversion for _, field, spec, conversion in parsed if field is not None):
        raise ValueError("path_template fields take no format spec or conversion: write {version_id}, not "
                         "{version_id:>5} or {version_id!r}")
    missing = [f for f in REQUIRED if f not in named]
    if missing:
        raise ValueError("path_template must hold " + " and ".join("{" + f + "}" for f in missing)
                         + ": every version of every contract needs a path of its own, or one would overwrite "
                           "another")
    sample = dict.fromkeys(FIELDS, "x")
    _check_segments("/".join(_fill(part, sample) for part in template.split("/")), "path_template")
    return template


def render(template: str, values: dict[str, object]) -> str:
    """The relative path for these values (each sanitised), under the storage's base path.

    Only `{file_name}` is shortened to keep a segment within MAX_SEGMENT_BYTES: cutting the whole segment
    could cut off the contract or version id written after the name, and two versions would share a path.
    """
    cleaned = {name: clean(values[name]) for name in FIELDS}
    segments = [_fill(part, cleaned) for part in check_template(template).split("/")]
    return _check_segments("/".join(segments), "the path")


def _fill(part: str, values: dict[str, str]) -> str:
    """One segment of the template filled in, its file name cut to what the rest of the segment leaves."""
    names = [field for _, field, _, _ in string.Formatter().parse(part) if field == "file_name"]
    if names:
        rest = len(part.format(**{**values, "file_name": ""}).encode())
        values = {**values, "file_name": _cut(values["file_name"], (MAX_SEGMENT_BYTES - rest) // len(names))}
    segment = part.format(**values)
    if len(segment.encode()) > MAX_SEGMENT_BYTES:
        raise ValueError(f"a path segment would be longer than {MAX_SEGMENT_BYTES} bytes even with its file name "
                         f"cut short: {segment[:80]!r}...")
    return segment


def clean(value: object) -> str:
    """One field's value made safe inside a path segment."""
    text = "".join(ch for ch in str(value) if not _unfit(ch))
    text = text.replace("/", "_").replace("\\", "_").strip()
    if text.startswith("~"):  # a value first in the template would make the path read as a home folder
        text = "_" + text[1:]
    return "_" if not text.strip(".") else text


def _unfit(text: str) -> bool:
    """Control (Cc: NUL, line breaks, DEL) or format (Cf: right-to-left overrides, zero widths) characters."""
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def _cut(name: str, limit: int) -> str:
    """A file name at most `limit` bytes in UTF-8, its extension (if short) kept."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > _EXTENSION_CHARS or len(extension.encode()) + 2 > limit:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    room = max(0, limit - len(suffix.encode()))
    return (stem.encode()[:room].decode("utf-8", "ignore").rstrip() or "_") + suffix


def _check_segments(path: str, what: str) -> str:
    if path.startswith("/") or path.startswith("~"):
        raise ValueError(f"{what} must be relative to the storage's base path (no leading / or ~): {path!r}")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"{what} must not hold an empty, . or .. folder: {path!r}")
    return path
