"""A fresh clone of the repository set up as the README's local walkthrough leaves it, for running the README's
commands as a new user would: `make setup`, a real `prefect server` (its own PREFECT_HOME, a free port), the
Block type registered and the credentials document `spotdraft` pointing at a sandbox, the `spotdraft` process
pool, `prefect deploy --all`, and a process worker. Everything started is stopped, also on failure."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.readme_runner import COMMAND_TIMEOUT, fresh_shell_env
from tools.prefect_server import local_prefect_server, stop_process_group


@dataclass
class DeployedClone:
    root: Path
    env: dict[str, str]  # a fresh shell's environment with PREFECT_API_URL set to the clone's server
    api_url: str
    logs: Path

    def shell(self, command: str, timeout: float = COMMAND_TIMEOUT, **extra_env: str) -> subprocess.CompletedProcess:
        """`command` in bash at the clone's root, as a person types it."""
        return subprocess.run(["bash", "-c", command], cwd=self.root, env={**self.env, **extra_env},
                              capture_output=True, text=True, timeout=timeout, start_new_session=True)


def _check(done: subprocess.CompletedProcess, what: str) -> str:
    assert done.returncode == 0, f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _clone_and_set_up(root: Path, env: dict[str, str]) -> Path:
    """`git clone` of HEAD (uncommitted edits stay out, as in anyone's clone), then `make setup`."""
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(root)], check=True, timeout=120)
    _check(subprocess.run(["make", "setup"], cwd=root, env={**env, "HOME": os.environ.get("HOME", "")},
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT), "`make setup` in a fresh clone")
    return root


@contextlib.contextmanager
def deployed_clone(base: Path, sandbox_url: str, client_id: str, client_secret: str) -> Iterator[DeployedClone]:
    """The clone at `base`/prefect-spotdraft, deployed on its own server, a worker running; the sandbox at
    `sandbox_url` is the credentials document's base URL. The scheduler is off: no run starts but those asked for."""
    # HOME is the test's too: nothing a command writes by default lands in the real home directory.
    env = {**fresh_shell_env(base / "cli-home"), "HOME": str(base / "home")}
    (base / "home").mkdir()
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(1) as pool:
        cloned = pool.submit(_clone_and_set_up, base / "prefect-spotdraft", env)  # while the server starts
        with pytest.MonkeyPatch.context() as patch:  # read by the server as it starts
            patch.setenv("PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED", "false")
            server_env = stack.enter_context(local_prefect_server(base / "server-home"))
        root = cloned.result()
        env["PREFECT_API_URL"] = server_env["PREFECT_API_URL"]
        clone = DeployedClone(root, env, server_env["PREFECT_API_URL"], base)
        save = ("from blocks import SpotDraftCredentials as C; import os; e = os.environ; C(client_id=e['SB_ID'], "
                "client_secret=e['SB_SECRET'], base_url=e['SB_URL']).save('spotdraft', overwrite=True)")
        pool_made = pool.submit(clone.shell, ".venv/bin/prefect work-pool create spotdraft --type process --overwrite")
        _check(clone.shell(".venv/bin/prefect block register -m blocks"), "prefect block register")
        _check(clone.shell(f'.venv/bin/python -c "{save}"', SB_ID=client_id, SB_SECRET=client_secret,
                           SB_URL=sandbox_url), "saving the credentials document")
        _check(pool_made.result(), "prefect work-pool create")
        _check(clone.shell(".venv/bin/prefect --no-prompt deploy --all --prefect-file deployments/prefect.yaml"),
               "prefect deploy")
        worker_log = stack.enter_context(open(base / "worker.log", "wb"))
        worker = subprocess.Popen(
            [str(root / ".venv/bin/prefect"), "worker", "start", "--pool", "spotdraft"], cwd=root,
            env={**env, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5"},
            stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True)
        stack.callback(stop_process_group, worker, 3)  # an idle worker needs no graceful exit here
        yield clone
