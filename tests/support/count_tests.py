"""Counts of the test suite, to check that a reorganisation drops no test and no assertion.

`.venv/bin/python tests/support/count_tests.py [ROOT]` prints, per directory under tests/ and in total, read
from the source (AST) of every .py file under tests/: the test functions defined (`def test_*`, methods
included); the `assert` statements, all of them and those inside test functions (a helper copied into two
modules counts twice in the first); and the `pytest.raises` calls. `--collect` adds pytest's collected count
per directory (`pytest --collect-only -q`; a module that skips at import, e.g. the browser test without
Chromium, collects nothing, so compare the defined counts).
"""

from __future__ import annotations

import ast
import collections
import subprocess
import sys
from pathlib import Path


def _in_tests(tree: ast.AST) -> int:
    """`assert` statements inside test functions (helpers copied into two modules count once per test)."""
    return sum(isinstance(inner, ast.Assert) for node in ast.walk(tree)
               if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
               for inner in ast.walk(node))


def count_file(path: Path) -> tuple[int, int, int, int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tests = asserts = raises = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            tests += 1
        elif isinstance(node, ast.Assert):
            asserts += 1
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "raises":
                raises += 1
    return tests, asserts, _in_tests(tree), raises


def main(argv: list[str]) -> int:
    collect = "--collect" in argv
    args = [a for a in argv if a != "--collect"]
    root = Path(args[0] if args else ".").resolve()
    tests_dir = root / "tests"
    per_dir: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
    for path in sorted(tests_dir.rglob("*.py")):
        if ".venv" in path.parts:
            continue
        counts = count_file(path)
        key = str(path.parent.relative_to(root))
        for i, n in enumerate(counts):
            per_dir[key][i] += n
    if collect:
        out = subprocess.run([str(root / ".venv/bin/pytest"), "--collect-only", "-q", "-p", "no:randomly"],
                             cwd=root, capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "::" in line:
                per_dir[str(Path(line.split("::")[0]).parent)][4] += 1
    print(f"{'directory':<28}{'tests':>7}{'asserts':>9}{'in tests':>10}{'raises':>8}"
          + (f"{'collected':>11}" if collect else ""))
    total = [0, 0, 0, 0, 0]
    for key in sorted(per_dir):
        row = per_dir[key]
        total = [a + b for a, b in zip(total, row, strict=True)]
        print(f"{key:<28}{row[0]:>7}{row[1]:>9}{row[2]:>10}{row[3]:>8}" + (f"{row[4]:>11}" if collect else ""))
    print(f"{'total':<28}{total[0]:>7}{total[1]:>9}{total[2]:>10}{total[3]:>8}"
          + (f"{total[4]:>11}" if collect else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
