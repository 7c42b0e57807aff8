"""The catalog generator run as `make generate` runs it, on a committed copy of what it reads and writes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT, SPEC_PATH


def run_generator(tree: Path, *args: str) -> subprocess.CompletedProcess:
    """The generator as `make generate` runs it, on the repository at `tree`."""
    return subprocess.run(
        [sys.executable, "-m", "tools.generate_catalog", "--spec", str(SPEC_PATH), *args],
        cwd=tree, capture_output=True, text=True, check=False,
    )


def git(tree: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.test", "-c", "commit.gpgsign=false", *args],
        cwd=tree, capture_output=True, text=True, check=True,
    )
    return done.stdout


def clean_tree(tmp_path: Path) -> Path:
    """A committed copy of what the generator reads and writes, so it can be run (and broken) out of the way."""
    tree = tmp_path / "repo"
    for name in ("tools", "client", "tasks", "docs", "store", "sandbox"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("README.md", "pyproject.toml", ".gitignore"):
        shutil.copy2(ROOT / name, tree / name)
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "--no-verify", "-m", "clean")
    return tree

