"""The packages import, and the credentials Block registers, from any working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.usefixtures("prefect_api")


# == the project installed editable into .venv ===============================================================
def test_the_packages_import_and_the_block_registers_from_another_directory(tmp_path):
    """Holds: with .venv's python, from a directory that is not the repository and without PYTHONPATH."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    done = subprocess.run([sys.executable, "-c", "import flows.sync, flows.review, blocks, tasks, client; "
                           "print(flows.sync.__file__)"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert Path(done.stdout.strip()).resolve() == ROOT / "flows" / "sync.py"
    done = subprocess.run([sys.executable, "-m", "prefect", "block", "register", "-m", "blocks"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
