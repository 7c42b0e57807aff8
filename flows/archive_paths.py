"""Where an archived file goes: `path_template`, checked before any request, filled with sanitised values.

Fields: `{contract_id}` (SpotDraft's composite id, T-123 or H-123), `{version_id}` (the contract's
current_version_id), `{file_name}` (SpotDraft's, extension included) and `{format}` (pdf or docx, the
file's kind). A template must hold `{contract_id}` and `{version_id}`: each version of each contract then
has a path of its own, so a new version is written beside the old one and never over it.

Every value is untrusted (SpotDraft names the file; a name may hold `../`, a NUL, a line break or a
right-to-left override): separators become `_`, control and format characters go, a value of dots
alone becomes `_`, and each path segment is cut to 200 bytes (an extension kept). The template itself
is refused when it would leave the storage's base path: absolute, `..` or `.` segments, backslashes,
control characters, empty segments, unknown fields, or format specs (`{version_id:>5}`).
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
    _check_segments(template.format(**dict.fromkeys(FIELDS, "x")), "path_template")
    return template


def render(template: str, values: dict[str, object]) -> str:
    """The relative path for these values (each sanitised), under the storage's base path."""
    path = check_template(template).format(**{name: clean(values[name]) for name in FIELDS})
    segments = [_cut(segment) for segment in path.split("/")]
    return _check_segments("/".join(segments), "the path")


def clean(value: object) -> str:
    """One field's value made safe inside a path segment."""
    text = "".join(ch for ch in str(value) if not _unfit(ch))
    text = text.replace("/", "_").replace("\\", "_").strip()
    return "_" if not text.strip(".") else text


def _unfit(text: str) -> bool:
    """Control (Cc: NUL, line breaks, DEL) or format (Cf: right-to-left overrides, zero widths) characters."""
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def _cut(segment: str) -> str:
    """A segment at most MAX_SEGMENT_BYTES in UTF-8, its extension (if short) kept."""
    if len(segment.encode()) <= MAX_SEGMENT_BYTES:
        return segment
    stem, dot, extension = segment.rpartition(".")
    if not dot or len(extension) > _EXTENSION_CHARS:
        stem, extension = segment, ""
    suffix = f".{extension}" if extension else ""
    room = MAX_SEGMENT_BYTES - len(suffix.encode())
    return stem.encode()[:room].decode("utf-8", "ignore").rstrip() + suffix


def _check_segments(path: str, what: str) -> str:
    if path.startswith("/") or path.startswith("~"):
        raise ValueError(f"{what} must be relative to the storage's base path (no leading / or ~): {path!r}")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"{what} must not hold an empty, . or .. folder: {path!r}")
    return path
