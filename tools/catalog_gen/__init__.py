"""The catalog generator, by job; `python -m tools.generate_catalog` (`make generate`) runs it.

tables.py       our decisions per operation, read from tools/operations/<family>.yaml
spec.py         reading SpotDraft's OpenAPI document: current operations, parameters, answers
build.py        the spec and the tables together: one OpInfo per current operation
models.py       request schemas to pydantic source (client/models.py)
catalog.py      client/catalog.py
handwritten.py  the hand-written tasks in tasks/_handwritten/, parsed, never imported
task_source.py  tasks/<family>.py and tasks/__init__.py
docs.py         docs/tasks.md and the task index of README.md
analytics.py    the analytics table catalog (client/, store/ and the sandbox's copy)
render.py       every generated file, formatted with ruff
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = ROOT.parent / "shared" / "spotdraft-openapi.yml"
GENERATED = "Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand."
