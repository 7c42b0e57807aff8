"""The spec and our tables together: one OpInfo per current operation, and the request models they use."""

from __future__ import annotations

import re
from typing import Any

from tools.catalog_gen.models import ModelWriter
from tools.catalog_gen.spec import OpInfo, current_operations, read_params, resolve, success_content, version_of
from tools.catalog_gen.tables import ENTRIES, FAMILIES, Entry


def safe_to_retry(method: str, path: str, entry: Entry) -> bool:
    """GET, and PUT/PATCH/DELETE of a known id, are safe; a POST only when its entry says so (a read)."""
    if method == "POST":
        if entry.retry is None:
            raise SystemExit(
                f"{entry.where}: {entry.operation_id} ({entry.task}) is a POST: say whether it may be repeated "
                "after an ambiguous failure, `retry: true` or `retry: false`, and `why:`"
            )
        return entry.retry
    if entry.retry is not None:
        raise SystemExit(
            f"{entry.where}: {entry.operation_id} ({entry.task}) is a {method}: retry is decided by the method "
            "(GET, and PUT/PATCH/DELETE of an id, are safe), so it takes no retry or why"
        )
    return method == "GET" or bool(re.search(r"{[^}]+}", path))


def read_body(spec: dict[str, Any], rb: dict[str, Any], info: OpInfo, entry: Entry, models: ModelWriter) -> None:
    """The request body: its model, how it is sent, and which fields of an upload carry the file."""
    content = rb.get("content", {})
    media = content.get("application/json") or content.get("multipart/form-data") or next(iter(content.values()))
    ref = media["schema"]["$ref"].rsplit("/", 1)[-1]
    only_multipart = set(content) == {"multipart/form-data"}
    if entry.multipart_upload or only_multipart:
        part = entry.multipart_upload
        info.body_model, _ = models.root(ref, multipart_file=part)
        info.body_kind = "multipart"
        info.upload = ("multipart", part) if part else None
    else:
        info.body_model, _ = models.root(ref)
        info.body_kind = "json"
        if entry.base64_upload:
            info.upload = ("base64", *entry.base64_upload)
    info.body_required = bool(rb.get("required"))
    info.body_schema = resolve(spec, media["schema"])


def read_answer(spec: dict[str, Any], op: dict[str, Any], info: OpInfo) -> None:
    """The kind of answer (JSON or a file), what the task returns, and whether it is one page of a list."""
    code, success = success_content(op)
    schema = resolve(spec, success["schema"]) if success and success.get("schema") else {}
    if success and (
        schema.get("format") == "binary" or success["content_type"] in ("application/pdf", "application/octet-stream")
    ):
        info.response_kind = "binary"
        info.returns = "dict[str, Any]"
    elif code == "204":
        info.returns = "None"
    elif not success or not schema:
        info.returns = "Any"
    elif schema.get("type") == "array":
        info.returns = (
            "list[dict[str, Any]]"
            if resolve(spec, schema.get("items")).get("type") == "object" or ("$ref" in (schema.get("items") or {}))
            else "list[Any]"
        )
    elif schema.get("type") == "string":
        info.returns = "str"
    else:
        info.returns = "dict[str, Any]"
    query = {p.name for p in info.params if p.location == "query"}
    info.paginated = {"page", "limit"} <= query and "total_results" in (schema.get("properties") or {})


def build(spec: dict[str, Any]) -> tuple[list[OpInfo], ModelWriter]:
    """Every current operation (in spec order) with our decisions about it, and the models of their bodies."""
    entries = ENTRIES
    ops: list[OpInfo] = []
    models = ModelWriter(spec)
    seen_ids = set()
    for method, path, op, common in current_operations(spec, entries):
        op_id = op["operationId"]
        seen_ids.add(op_id)
        entry = entries.get(op_id)
        if entry is None:
            raise SystemExit(f"no name for {op_id} ({method} {path}): add its entry to tools/operations/<family>.yaml")
        if entry.family not in FAMILIES:
            raise SystemExit(f"unknown family {entry.family!r} for {entry.task}: it needs {entry.family}.yaml")
        info = OpInfo(
            name=entry.task,
            method=method,
            path=path,
            version=version_of(path),
            family=entry.family,
            operation_id=op_id,
            safe_to_retry=safe_to_retry(method, path, entry),
            summary=entry.summary,
            params=read_params(spec, path, op, common),
            body_schema=None,
            doc=entry.doc,
        )
        rb = op.get("requestBody")
        if rb:
            read_body(spec, rb, info, entry, models)
        elif entry.base64_upload or entry.multipart_upload:
            raise SystemExit(f"{entry.where}: {op_id} ({entry.task}) takes no request body, so it uploads no file")
        read_answer(spec, op, info)
        ops.append(info)
    stale = set(entries) - seen_ids
    if stale:
        raise SystemExit(
            f"NAMES lists operations the spec no longer has: {sorted(stale)} "
            f"(remove their entries from tools/operations/)"
        )
    return ops, models
