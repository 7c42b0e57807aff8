"""Generate the operation catalog, the request models, the task modules and the task docs from the spec.

    make generate                                       # rewrite what changed (spec: ../shared/)
    make generate SPEC=path/to/spotdraft-openapi.yml    # another copy of the spec
    python -m tools.generate_catalog --check            # exit 1, naming them, if any file would change

Writes client/models.py, client/catalog.py, tasks/__init__.py, tasks/<family>.py, docs/tasks.md and
the task index of README.md (between its tasks:begin/tasks:end markers); each says it is generated.

The spec (SpotDraft's published OpenAPI document) is read here only; the generated modules are
committed and the runtime never needs it. Nothing of the spec's prose is copied: every name,
summary and docstring is ours. What the spec decides: methods, exact paths, parameters (name, place,
type, pattern), request schemas and the kind of answer. What we decide is data, one file per family in
tools/operations/ (its README.md says how to add an operation): the task name, its family, its
summary, for every POST whether it is safe to repeat and why, the fields of uploads, and a task's
docstring when ours says more than the summary.

A task that must do more than call its operation is written by hand in tasks/_handwritten/<family>.py
(see that package's docstring): the generator reads those modules, generates no task for their
operations and re-exports theirs from tasks/<family>.py, so public names do not depend on who wrote a task.

The work is split by job in tools/catalog_gen/ (its docstring lists the modules); this module is the
command. Output is deterministic and formatted with ruff, so on a clean tree `make generate` changes
nothing and `--check` is a conformance test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.catalog_gen import DEFAULT_SPEC, GENERATED, ROOT
from tools.catalog_gen.build import build
from tools.catalog_gen.handwritten import HANDWRITTEN_DIR, HandWritten, check_handwritten, read_handwritten
from tools.catalog_gen.render import render
from tools.catalog_gen.spec import OpInfo, ParamInfo, load_spec
from tools.catalog_gen.tables import (
    BASE64_UPLOADS,
    DOCS,
    ENTRIES,
    FAMILIES,
    MULTIPART_UPLOADS,
    NAMES,
    OPERATIONS_DIR,
    SAFE_POSTS,
)

__all__ = [
    "BASE64_UPLOADS",
    "DEFAULT_SPEC",
    "DOCS",
    "ENTRIES",
    "FAMILIES",
    "GENERATED",
    "HANDWRITTEN_DIR",
    "MULTIPART_UPLOADS",
    "NAMES",
    "OPERATIONS_DIR",
    "ROOT",
    "SAFE_POSTS",
    "HandWritten",
    "OpInfo",
    "ParamInfo",
    "build",
    "check_handwritten",
    "load_spec",
    "main",
    "read_handwritten",
    "render",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="the OpenAPI document (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 if any generated file would change")
    args = parser.parse_args(argv)
    if not args.spec.is_file():
        print(f"no spec at {args.spec}; pass --spec", file=sys.stderr)
        return 2
    files = render(load_spec(args.spec))
    changed = [
        rel
        for rel, content in files.items()
        if not (ROOT / rel).exists() or (ROOT / rel).read_text(encoding="utf-8") != content
    ]
    if args.check:
        for rel in changed:
            print(f"would change: {rel}")
        return 1 if changed else 0
    for rel in changed:
        (ROOT / rel).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / rel).write_text(files[rel], encoding="utf-8")
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
