"""The tasks written by hand in tasks/_handwritten/<family>.py: read (parsed, never imported) and checked.

A task that must do more than call its operation is written there; the generator generates no task for
its operation and re-exports the hand-written one from tasks/<family>.py, so public names do not depend
on who wrote a task.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tools.catalog_gen import ROOT
from tools.catalog_gen.spec import OpInfo
from tools.catalog_gen.tables import FAMILIES

HANDWRITTEN_DIR = ROOT / "tasks" / "_handwritten"


@dataclass(frozen=True)
class HandWritten:
    """A task written by hand: its operation's name and where it is."""

    name: str
    family: str  # the module's name, which must be its operation's family
    where: str  # path:line, for messages


def read_handwritten(directory: Path = HANDWRITTEN_DIR) -> dict[str, HandWritten]:
    """Every `@spotdraft_task("<operation>")` function in the hand-written modules, by operation name.

    The modules are parsed, never imported: importing them needs the catalog, which may be the very
    file being regenerated (or broken).
    """
    found: dict[str, HandWritten] = {}
    for path in sorted(directory.glob("*.py")):
        if path.name == "__init__.py":
            continue
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if path.stem not in FAMILIES:
            raise SystemExit(
                f"{rel}: hand-written tasks go in a module named after their family (one of tools/operations/)"
            )
        for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            recognised = [op for op in map(decorated_operation, node.decorator_list) if op is not None]
            if not recognised and not node.name.startswith("_"):
                # An aliased decorator (`spotdraft_task as op`) would hide a task from the generator,
                # which would then write its own under the same name: refuse rather than guess.
                raise SystemExit(
                    f'{rel}:{node.lineno}: {node.name!r} is not decorated @spotdraft_task("<operation>") '
                    "under that name; hand-written modules hold tasks (a helper's name starts with _)"
                )
            for decorator in node.decorator_list:
                operation = decorated_operation(decorator)
                if operation is None:
                    continue
                where = f"{rel}:{node.lineno}"
                if operation != node.name:
                    raise SystemExit(
                        f"{where}: hand-written task {node.name!r} is decorated for {operation!r}; "
                        "a task is named like its operation"
                    )
                if operation in found:
                    raise SystemExit(f"{where}: {operation!r} is already written by hand at {found[operation].where}")
                found[operation] = HandWritten(operation, path.stem, where)
    return found


def decorated_operation(decorator: ast.expr) -> str | None:
    """The operation of `@spotdraft_task("<operation>")` (or `@_base.spotdraft_task(...)`); None for others."""
    if not isinstance(decorator, ast.Call):
        return None
    func = decorator.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if called != "spotdraft_task":
        return None
    args = decorator.args
    if len(args) != 1 or not isinstance(args[0], ast.Constant) or not isinstance(args[0].value, str):
        raise SystemExit(f"line {decorator.lineno}: spotdraft_task takes the operation's name as one string literal")
    return args[0].value


def check_handwritten(ops: list[OpInfo], handwritten: dict[str, HandWritten]) -> None:
    """Each hand-written task is for an operation of the catalog, in its family's module."""
    families = {op.name: op.family for op in ops}
    docs = {op.name for op in ops if op.doc}
    for task in handwritten.values():
        if task.name not in families:
            raise SystemExit(
                f"{task.where}: hand-written task {task.name!r} is for an operation the catalog does not have "
                "(no entry in tools/operations/ gives that name)"
            )
        if families[task.name] != task.family:
            raise SystemExit(
                f"{task.where}: hand-written task {task.name!r} belongs in tasks/_handwritten/"
                f"{families[task.name]}.py, its operation's family"
            )
        if task.name in docs:
            raise SystemExit(
                f"{task.where}: hand-written task {task.name!r} has its own docstring: remove the doc of its "
                f"entry in tools/operations/{task.family}.yaml"
            )
