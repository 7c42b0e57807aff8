"""The webhook benchmark's stack (tools/bench_webhooks.py says what it measures): a sandbox process, the
credentials document, one full sync, the receiver subscribed and started, and what runs its syncs
(tools/bench_webhooks_executors.py), each process stopped (with its children) when the stack ends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from sandbox import SandboxProcess
from store import contracts, engine_for
from tools.prefect_server import free_port, stop_process_group

REPO = Path(__file__).resolve().parents[1]
KEY_BLOCK = "spotdraft-webhook-key"
STEP, BEFORE, AFTER = "send", "DRAFT", "REDLINING"  # the change: one delivery, CONTRACT_SENT_TO_COUNTERPARTY
WORKER_ENV = {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5",
              "PREFECT_LOGGING_LEVEL": "INFO"}


def prefect_cli(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    done = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"prefect {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def run_python(env: dict[str, str], code: str, *args: str, timeout: float = 180) -> str:
    """Run `code` in a fresh interpreter (as an operator would, with the stack's Prefect settings)."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"python -c failed:\n{done.stderr[-2000:]}")
    return done.stdout


def api(env: dict[str, str], call: Callable[[Any], Any]) -> Any:
    """`await call(client)` with a Prefect client on the stack's server."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def go():
        async with get_client() as client:
            return await call(client)

    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        return asyncio.run(go())


def save_credentials(env: dict[str, str], sb: SandboxProcess) -> None:
    prefect_cli(env, "block", "register", "-m", "blocks")
    save = ("from blocks import SpotDraftCredentials as C; import os; "
            "C(client_id=os.environ['SB_ID'], client_secret=os.environ['SB_SECRET'], "
            "base_url=os.environ['SB_URL']).save('spotdraft', overwrite=True)")
    run_python({**env, "SB_ID": sb.client_id, "SB_SECRET": sb.client_secret, "SB_URL": str(sb.base_url)}, save)


def fill_database(env: dict[str, str], database_url: str, contract_count: int) -> None:
    """One full sync, so every contract has its row before it changes."""
    sync = ("import sys; from blocks import SpotDraftCredentials as C; from flows import sync_contracts; "
            "sync_contracts(C.load('spotdraft'), database_url=sys.argv[1], reference_data=False)")
    run_python({**env, "PREFECT_LOGGING_LEVEL": "WARNING"}, sync, database_url)
    with engine_for(database_url).connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).where(contracts.c.contract_status == BEFORE)).scalar_one()
    if stored != contract_count:
        raise RuntimeError(f"the full sync stored {stored} {BEFORE} contracts of {contract_count}")


def register_webhook(env: dict[str, str], sb: SandboxProcess, url: str) -> None:
    register = ("import sys; from blocks import SpotDraftCredentials; from flows import register_webhook; "
                f"register_webhook(SpotDraftCredentials.load('spotdraft'), sys.argv[1], key_block={KEY_BLOCK!r})")
    run_python(env, register, url)
    if [w["url"] for w in sb.webhooks] != [url]:
        raise RuntimeError(f"the sandbox's subscriptions are {sb.webhooks}, not one to {url}")


@contextlib.contextmanager
def background(env: dict[str, str], log_path: Path, *args: str) -> Iterator[subprocess.Popen]:
    """A long-running process of the stack, in its own process group, stopped (with its children) on exit."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            stop_process_group(process, grace=3)


@contextlib.contextmanager
def worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """A process worker on the pool. Its flow-run processes each run in a session of their own, so stopping
    the worker's group leaves them: those it has when the worker stops are stopped after it."""
    flow_runs: list[int] = []
    try:
        with background(env, log_path, "-m", "prefect", "worker", "start", "--pool", "spotdraft") as process:
            try:
                yield process
            finally:
                flow_runs = children(process.pid)
    finally:
        for pid in flow_runs:
            stop_group(pid)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:  # after "pid (name)": state, ppid, ...
                found.append(int(stat.parent.name))
    return found


def stop_group(leader: int, grace: float = 3.0) -> None:
    """SIGTERM the process group `leader` leads, then SIGKILL it if the leader is still running."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader, sig)
        deadline = time.monotonic() + grace
        while running(leader) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not running(leader):
            return


def running(pid: int) -> bool:
    """Alive and not a zombie (a reparented child may stay one until its new parent reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)


def answers(url: str, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"the receiver exited with {process.returncode}")
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def webhook_stack(prefect_env: dict[str, str], home: Path, contract_count: int, executor: str,
                  sync_concurrency: int | None = None) -> Iterator[tuple]:
    """Everything above, ready for changes: yields (sandbox, env, database_url, contract ids)."""
    from tools import bench_webhooks_executors

    env = {**os.environ, **prefect_env, **WORKER_ENV}
    database_url = f"sqlite:///{home / 'webhooks.db'}"
    with contextlib.ExitStack() as stack:
        sb = stack.enter_context(SandboxProcess(contracts=contract_count, seed=12))
        ids = [str(c["id"]) for c in sb.snapshot()]
        for contract_id in ids:
            sb.touch(contract_id, status=BEFORE)  # silent: no delivery
        save_credentials(env, sb)
        fill_database(env, database_url, len(ids))
        extra = bench_webhooks_executors.start(executor, stack, env, home, database_url, sync_concurrency)
        port = free_port()
        register_webhook(env, sb, f"http://127.0.0.1:{port}/spotdraft/webhooks")
        receiver = stack.enter_context(background(env, home / "receiver.log", "-m", "webhooks", "--port", str(port),
                                                  "--key-block", KEY_BLOCK, "--database-url", database_url, *extra))
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz", receiver), 90, "the receiver to answer")
        yield sb, env, database_url, ids
