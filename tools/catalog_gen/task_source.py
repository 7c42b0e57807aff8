"""The task modules: tasks/<family>.py (generated tasks, hand-written ones re-exported) and tasks/__init__.py."""

from __future__ import annotations

import re

from tools.catalog_gen import GENERATED
from tools.catalog_gen.handwritten import HandWritten
from tools.catalog_gen.models import python_name
from tools.catalog_gen.spec import OpInfo, ParamInfo
from tools.catalog_gen.tables import FAMILIES

RESERVED = {"credentials", "body", "destination", "file", "file_name", "filters"}


def py_param(name: str) -> str:
    py = python_name(name)
    return py + "_" if py in RESERVED else py


def query_annotation(p: ParamInfo) -> str:
    if p.enum:
        base = f"Literal[{', '.join(repr(v) for v in p.enum if v is not None)}]"
    else:
        base = {"integer": "int", "boolean": "bool", "number": "float", "array": "list[str]"}.get(p.type, "str")
    return base


def task_source(op: OpInfo) -> tuple[str, set[str]]:
    """The source of one generated task and the names it needs imported."""
    needs: set[str] = set()
    path_params = [p for p in op.params if p.location == "path"]
    query = [p for p in op.params if p.location == "query"]
    # query parameters with wire names that are Python names get their own keyword; the rest
    # (filters, custom fields) go through **filters
    named = [p for p in query if re.fullmatch(r"[a-z][a-z0-9_]*", p.name) and not p.name.startswith("filter")]
    open_ = [p for p in query if p not in named]
    required_q = [p for p in named if p.required]
    optional_q = sorted(
        (p for p in named if not p.required), key=lambda p: (p.name not in ("page", "limit"), p.name != "page", p.name)
    )

    sig = ["credentials: SpotDraftCredentials"]
    for p in path_params:
        sig.append(f"{py_param(p.name)}: {'int' if p.type == 'integer' else 'str'}")
    for p in required_q:
        sig.append(f"{py_param(p.name)}: {query_annotation(p)}")
    if op.upload:
        sig.append("file: str | bytes")
    body_type = None
    if op.body_model:
        if op.upload and op.upload[0] == "base64":
            body_type = "dict[str, Any]"
            file_fields = {op.upload[1], op.upload[2]}
            req = set((op.body_schema or {}).get("required") or []) - file_fields
            body_needed = bool(req)
        else:
            root_list = (op.body_schema or {}).get("type") == "array"
            body_type = "list[dict[str, Any]]" if root_list else f"m.{op.body_model} | dict[str, Any]"
            if root_list:
                body_type = f"m.{op.body_model} | list[dict[str, Any]]"
            body_needed = op.body_required
        if body_needed:
            sig.append(f"body: {body_type}")
    if op.response_kind == "binary":
        sig.append("destination: str")
    paginated_defaults = {"page": "1", "limit": "100"}
    for p in optional_q:
        if op.paginated and p.name in paginated_defaults:
            sig.append(f"{p.name}: int = {paginated_defaults[p.name]}")
        else:
            sig.append(f"{py_param(p.name)}: {query_annotation(p)} | None = None")
    if op.body_model and not body_needed:
        sig.append(f"body: {body_type} | None = None")
    if op.upload:
        sig.append("file_name: str | None = None")
    if open_:
        sig.append("**filters: Any")
    if any("Literal[" in s for s in sig):
        needs.add("Literal")

    call = [f"credentials, {op.name!r}"]
    if path_params:
        call.append("path_params={" + ", ".join(f"{p.name!r}: {py_param(p.name)}" for p in path_params) + "}")
    if query:
        items = [
            f"{p.name!r}: {py_param(p.name) if not (op.paginated and p.name in paginated_defaults) else p.name}"
            for p in named
        ]
        if open_:
            items.append("**filters")
        call.append("query={" + ", ".join(items) + "}")

    pre: list[str] = []
    if op.upload and op.upload[0] == "base64":
        _, name_field, content_field = op.upload
        needs.add("files")
        pre.append("file_name, content = files.base64_upload(file, file_name)")
        pre.append(f"payload = {{**(body or {{}}), {name_field!r}: file_name, {content_field!r}: content}}")
        call.append("body=payload")
    elif op.upload and op.upload[0] == "multipart":
        needs.add("files")
        call.append("body=body")
        call.append(f"files={{{op.upload[1]!r}: part}}")
    elif op.body_model:
        call.append("body=body")

    notes = []
    if op.response_kind == "binary":
        notes.append("Streams the file to `destination` (a file path, or a directory to put it in) and returns")
        notes.append("its path, size in bytes and content type.")
    if op.upload and op.upload[0] == "base64":
        notes.append("`file` is a local path, or the bytes (then give `file_name`); it is sent base64-encoded")
        notes.append(f"as `{op.upload[2]}`, its name as `{op.upload[1]}`, with the other fields of `body`.")
    if op.upload and op.upload[0] == "multipart":
        notes.append("`file` is a local path, or the bytes (then give `file_name`); it is sent as the multipart")
        notes.append(f"part `{op.upload[1]}`, streamed from disk, with the fields of `body` as form fields.")
    if op.paginated:
        notes.append("The answer carries `total_results`, `page`, `limit` and `results`.")
    if open_:
        notes.append('Filters go as keywords with their wire names, e.g. `**{"' + open_[-1].name + '": ...}`.')
    lines = [f"@spotdraft_task({op.name!r})", f"def {op.name}({', '.join(sig)}) -> {op.returns}:"]
    lines += docstring(op, notes)
    lines += [f"    {line}" for line in pre]
    if op.response_kind == "binary":
        call.append("stream_to=destination")
    invocation = f"call_operation({', '.join(call)})"
    if op.response_kind == "binary":
        lines.append(f"    return {invocation}")
    elif op.upload and op.upload[0] == "multipart":
        lines.append("    with files.open_upload(file, file_name) as part:")
        lines.append(f"        return {invocation}")
    elif op.returns == "None":
        lines.append(f"    {invocation}")
    else:
        lines.append(f"    return {invocation}")
    if "m." in "".join(sig):
        needs.add("m")
    return "\n".join(lines) + "\n", needs


def docstring(op: OpInfo, notes: list[str]) -> list[str]:
    """A task's docstring: our summary and the notes its kind of operation needs, or its entry's doc instead."""
    if op.doc:
        text = op.doc.strip().splitlines()
        if len(text) == 1:
            return [f'    """{text[0]}"""']
        return [f'    """{text[0]}', *(f"    {line}".rstrip() for line in text[1:]), '    """']
    summary = op.summary.rstrip(".") + "."
    if not notes:
        return [f'    """{summary}"""']
    return [f'    """{summary}', "", *(f"    {n}" for n in notes), '    """']


def family_source(family: str, ops: list[OpInfo], handwritten: dict[str, HandWritten]) -> str:
    """A family's module: its generated tasks, and its hand-written ones re-exported under the same names."""
    imports = {
        "from typing import Any",
        "from blocks import SpotDraftCredentials",
        "from tasks._base import call_operation, spotdraft_task",
    }
    typing_names = {"Any"}
    bodies = []
    kept = sorted(op.name for op in ops if op.name in handwritten)
    for op in ops:
        if op.name in handwritten:
            continue
        code, needs = task_source(op)
        if "Literal" in needs:
            typing_names.add("Literal")
        if "files" in needs:
            imports.add("from client import files")
        if "m" in needs:
            imports.add("from client import models as m")
        bodies.append(code)
    imports.discard("from typing import Any")
    imports.add(f"from typing import {', '.join(sorted(typing_names))}")
    doc = [FAMILIES[family], "", GENERATED]
    if kept:
        imports.add(f"from tasks._handwritten.{family} import ({', '.join(kept)},)")
        doc.append(f"Hand-written tasks are in tasks/_handwritten/{family}.py and re-exported here.")
    head = ['"""' + doc[0], *doc[1:], '"""', "", "from __future__ import annotations", ""]
    head += sorted(imports)
    # __all__ names every task of the family, so the re-exported ones are public (and ruff keeps their import).
    names = sorted(op.name for op in ops)
    head += ["", "__all__ = [" + "".join(f"{n!r}," for n in names) + "]"]
    return "\n".join(head) + "\n\n\n" + "\n\n".join(bodies)


def init_source(ops: list[OpInfo]) -> str:
    by_family: dict[str, list[str]] = {}
    for op in ops:
        by_family.setdefault(op.family, []).append(op.name)
    lines = [
        '"""One Prefect task per SpotDraft operation, first parameter `credentials`.',
        "",
        "    from tasks import get_contract_status",
        "",
        GENERATED,
        "See docs/tasks.md for the list by family.",
        '"""',
        "",
    ]
    for family in sorted(by_family):
        names = sorted(by_family[family])
        lines.append(f"from tasks.{family} import ({', '.join(names)},)")
    everything = sorted(n for names in by_family.values() for n in names)
    lines.append("")
    lines.append("__all__ = [" + "".join(f"{n!r}," for n in everything) + "]")
    return "\n".join(lines) + "\n"
