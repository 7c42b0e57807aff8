"""Every generated file, rendered and formatted with ruff: relative path -> content."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tools.catalog_gen import ROOT
from tools.catalog_gen.analytics import catalog_module, read_catalog, sandbox_json, store_module
from tools.catalog_gen.build import build
from tools.catalog_gen.catalog import catalog_source
from tools.catalog_gen.docs import docs_source, readme_source
from tools.catalog_gen.handwritten import check_handwritten, read_handwritten
from tools.catalog_gen.spec import OpInfo
from tools.catalog_gen.task_source import family_source, init_source

# The packages generated code imports from, named so that import sorting does not depend on which
# directories ruff happens to find beside them (it guesses first-party packages from the tree).
FIRST_PARTY = '["blocks", "client", "store", "tasks"]'


def ruff(source: str, filename: str) -> str:
    """Sort imports and format, with the project's ruff configuration."""
    sort = ["check", "--fix", "--select", "I,F401", "--config", f"lint.isort.known-first-party = {FIRST_PARTY}"]
    for args in ([*sort, "--quiet", "--exit-zero"], ["format", "--quiet"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--stdin-filename", filename, "-"],
            input=source,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"ruff {args[0]} failed on {filename}:\n{done.stderr}\n{source}")
        source = done.stdout
    return source


def render(spec: dict[str, Any]) -> dict[str, str]:
    """Every generated file: relative path -> content."""
    ops, models = build(spec)
    handwritten = read_handwritten()
    check_handwritten(ops, handwritten)
    users: dict[str, list[str]] = {}
    for op in ops:
        if op.body_model:
            users.setdefault(op.body_model, []).append(op.name)
    files: dict[str, str] = {
        "client/models.py": ruff(models.source(users), "client/models.py"),
        "client/catalog.py": ruff(catalog_source(ops), "client/catalog.py"),
        "tasks/__init__.py": ruff(init_source(ops), "tasks/__init__.py"),
        "docs/tasks.md": docs_source(ops),
        "README.md": readme_source(ops),
    }
    tables, allowlisted = read_catalog(spec)
    files["client/analytics_catalog.py"] = ruff(catalog_module(tables, allowlisted), "client/analytics_catalog.py")
    files["store/analytics_tables.py"] = ruff(store_module(tables), "store/analytics_tables.py")
    files["sandbox/analytics_catalog.json"] = sandbox_json(tables, allowlisted)
    by_family: dict[str, list[OpInfo]] = {}
    for op in ops:
        by_family.setdefault(op.family, []).append(op)
    for family, family_ops in sorted(by_family.items()):
        rel = f"tasks/{family}.py"
        files[rel] = ruff(family_source(family, family_ops, handwritten), rel)
    return files
