"""The generated files are what the generator writes from the spec, and `make generate` on a clean tree
changes nothing (but puts back a generated file edited by hand). The generator runs as `make generate`
runs it, on a committed copy of the files it reads and writes, so that `git status` can say what it changed.
"""

from __future__ import annotations

import subprocess

from tests.support.generator_tree import clean_tree, git, run_generator
from tests.support.paths import ROOT, SPEC_PATH, require_spec


def test_generated_files_are_up_to_date():
    require_spec()
    done = run_generator(ROOT, "--check")
    assert done.returncode == 0, f"regenerating would change files:\n{done.stdout}{done.stderr}"


def test_make_generate_is_a_no_op_on_a_clean_tree(tmp_path):
    require_spec()
    dry = subprocess.run(["make", "-n", "generate", f"SPEC={SPEC_PATH}"], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    (command,) = [line for line in dry.stdout.splitlines() if "tools.generate_catalog" in line]
    assert command.endswith(f"python -m tools.generate_catalog --spec {SPEC_PATH}"), command
    tree = clean_tree(tmp_path)
    done = run_generator(tree)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert git(tree, "status", "--porcelain") == ""
    # It does write: a generated file edited by hand is put back as it was.
    edited = tree / "tasks" / "contracts.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "\nEDITED = True\n", encoding="utf-8")
    done = run_generator(tree)
    assert done.returncode == 0 and done.stdout == "wrote tasks/contracts.py\n", done.stdout + done.stderr
    assert git(tree, "status", "--porcelain") == ""
