"""Our decisions per operation, read from tools/operations/<family>.yaml (the format: its README.md).

The spec says how to call an operation; these files say what we call it and what we promise: the task
name, its family (the file's name, and the tasks/ module), our one-line summary, for every POST whether
it may be repeated after an ambiguous failure (and why), which fields of an upload carry the file, and
a task's docstring when ours says more than the summary. The files are read strictly: an unknown key,
a key given twice, or a value of the wrong kind stops the generator with the file and operation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.catalog_gen import ROOT

OPERATIONS_DIR = ROOT / "tools" / "operations"
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Entry:
    """One operation's entry: what its task is called and what we decided about it."""

    operation_id: str
    task: str
    family: str
    summary: str
    where: str  # the file, for messages
    retry: bool | None = None  # POSTs only: may it be repeated after an ambiguous failure
    why: str | None = None  # POSTs only: the reason
    base64_upload: tuple[str, str] | None = None  # (file name field, base64 content field)
    multipart_upload: str | None = None  # the file part's name
    doc: str | None = None  # the task's whole docstring, instead of the summary


@dataclass(frozen=True)
class Tables:
    families: dict[str, str]  # family -> the docstring of tasks/<family>.py
    entries: dict[str, Entry]  # operationId -> its entry


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in a mapping is an error, not the last one winning."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"{key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _text(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SystemExit(f"{where}: {key} must be text")
    return value


def _entry(where: str, family: str, operation_id: str, raw: Any) -> Entry:
    here = f"{where}: {operation_id}"
    if not isinstance(raw, dict):
        raise SystemExit(f"{here}: an operation's entry is a mapping (task, summary, ...)")
    unknown = set(raw) - {"task", "summary", "retry", "why", "base64_upload", "multipart_upload", "doc"}
    if unknown:
        raise SystemExit(f"{here}: unknown keys {sorted(unknown)}")
    for key in ("task", "summary"):
        if key not in raw:
            raise SystemExit(f"{here}: {key} is required")
    task = _text(here, "task", raw["task"])
    if not _IDENTIFIER.fullmatch(task):
        raise SystemExit(f"{here}: task {task!r} is not a lower-case Python name")
    retry = raw.get("retry")
    if retry is not None and not isinstance(retry, bool):
        raise SystemExit(f"{here}: retry is true or false")
    if (retry is None) != ("why" not in raw):
        raise SystemExit(f"{here}: retry and why go together (whether a POST may be repeated, and the reason)")
    upload = raw.get("base64_upload")
    if upload is not None and not (
        isinstance(upload, list) and len(upload) == 2 and all(isinstance(f, str) and f for f in upload)
    ):
        raise SystemExit(f"{here}: base64_upload is [file name field, base64 content field]")
    return Entry(
        operation_id=operation_id,
        task=task,
        family=family,
        summary=_text(here, "summary", raw["summary"]),
        where=where,
        retry=retry,
        why=_text(here, "why", raw["why"]) if "why" in raw else None,
        base64_upload=(upload[0], upload[1]) if upload else None,
        multipart_upload=_text(here, "multipart_upload", raw["multipart_upload"])
        if "multipart_upload" in raw
        else None,
        doc=_text(here, "doc", raw["doc"]) if "doc" in raw else None,
    )


def load_tables(directory: Path = OPERATIONS_DIR) -> Tables:
    """Every family file of `directory`, read and checked; the same operation or task twice is an error."""
    families: dict[str, str] = {}
    entries: dict[str, Entry] = {}
    tasks: dict[str, Entry] = {}
    for path in sorted(directory.glob("*.yaml")):
        where = str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        family = path.stem
        if not _IDENTIFIER.fullmatch(family):
            raise SystemExit(f"{where}: a family's file is named after it, a lower-case Python name")
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
        except yaml.YAMLError as exc:
            raise SystemExit(f"{where}: {exc}") from None
        if not isinstance(data, dict) or set(data) != {"module_doc", "operations"}:
            raise SystemExit(f"{where}: a family's file has module_doc and operations, and nothing else")
        families[family] = _text(where, "module_doc", data["module_doc"])
        if not isinstance(data["operations"], dict) or not data["operations"]:
            raise SystemExit(f"{where}: operations maps operationIds to their entries")
        for operation_id, raw in data["operations"].items():
            if operation_id in entries:
                raise SystemExit(f"{where}: {operation_id} is also in {entries[operation_id].where}")
            entry = _entry(where, family, str(operation_id), raw)
            if entry.task in tasks:
                raise SystemExit(
                    f"{where}: {operation_id}: task {entry.task!r} is also {tasks[entry.task].operation_id}'s "
                    f"({tasks[entry.task].where})"
                )
            entries[entry.operation_id] = tasks[entry.task] = entry
    if not families:
        raise SystemExit(f"no family files (*.yaml) in {directory}")
    return Tables(families, entries)


TABLES = load_tables()
FAMILIES: dict[str, str] = TABLES.families
ENTRIES: dict[str, Entry] = TABLES.entries

# The same decisions as the tables the generator used to hold in Python, for readers of its API.
NAMES: dict[str, tuple[str, str, str]] = {i: (e.task, e.family, e.summary) for i, e in ENTRIES.items()}
SAFE_POSTS: set[str] = {e.task for e in ENTRIES.values() if e.retry}
BASE64_UPLOADS: dict[str, tuple[str, str]] = {e.task: e.base64_upload for e in ENTRIES.values() if e.base64_upload}
MULTIPART_UPLOADS: dict[str, str] = {e.task: e.multipart_upload for e in ENTRIES.values() if e.multipart_upload}
DOCS: dict[str, str] = {e.task: e.doc for e in ENTRIES.values() if e.doc}
