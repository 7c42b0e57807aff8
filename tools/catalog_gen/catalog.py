"""client/catalog.py: one Operation per current operation, in spec order."""

from __future__ import annotations

from tools.catalog_gen import GENERATED
from tools.catalog_gen.spec import OpInfo, ParamInfo


def render_param(p: ParamInfo) -> str:
    args = [repr(p.name), repr(p.location)]
    if p.required:
        args.append("required=True")
    if p.type != "string":
        args.append(f"type={p.type!r}")
    if p.pattern:
        args.append(f"pattern={p.pattern!r}")
    return f"Param({', '.join(args)})"


def catalog_source(ops: list[OpInfo]) -> str:
    out = [
        '"""The catalog of SpotDraft operations: one entry per current operation of the API.',
        "",
        GENERATED,
        "",
        "Each entry says how to call one operation (method, exact path, parameters, request model, kind",
        "of answer) and whether it may be repeated after an ambiguous failure; `OPERATIONS_BY_NAME` is how",
        "the client finds it, and every entry has the task of the same name in `tasks`.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from client import models as m",
        "from client.operation import Operation, Param",
        "",
        "OPERATIONS: tuple[Operation, ...] = (",
    ]
    for op in ops:
        fields = [
            f"name={op.name!r}",
            f"method={op.method!r}",
            f"path={op.path!r}",
            f"version={op.version!r}",
            f"family={op.family!r}",
            f"operation_id={op.operation_id!r}",
            f"safe_to_retry={op.safe_to_retry!r}",
            f"summary={op.summary!r}",
        ]
        if op.params:
            fields.append("params=(" + "".join(f"{render_param(p)}," for p in op.params) + ")")
        if op.body_model:
            fields.append(f"body_model=m.{op.body_model}")
            fields.append(f"body_kind={op.body_kind!r}")
        if op.body_required:
            fields.append("body_required=True")
        if op.response_kind != "json":
            fields.append(f"response_kind={op.response_kind!r}")
        if op.paginated:
            fields.append("paginated=True")
        out.append("    Operation(" + ", ".join(fields) + ",),")
    out.append(")")
    out.append("")
    out.append("OPERATIONS_BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}")
    return "\n".join(out) + "\n"
