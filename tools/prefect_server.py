"""Start a real local `prefect server` on a free loopback port, and stop it, also on failure.

Used by the demo and the end-to-end tests. A real server (rather than Prefect's ephemeral mode)
keeps the output clean: ephemeral shutdown under load prints 'Error flushing events' tracebacks.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tools import prefect_db_template

QUIET_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def free_port() -> int:
    """A port free now, for a server started next. Drawn below the kernel's ephemeral range (from 32768), where
    the OS puts every socket bound to port 0 (each sandbox, Prefect's test harness): between this check and the
    server's own bind, a process running beside it (another pytest worker) cannot take it by chance."""
    for _ in range(200):
        port = random.randint(20_000, 32_000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # that whole range busy: whatever the kernel gives
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process_group(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the whole group, then SIGKILL what is left (an idle worker may ignore the first TERM)."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class PrefectServer:
    """`prefect server start` on one port with its own PREFECT_HOME; stopped and started again at will (a restart
    keeps its database: the SQLite file in its home, or the PostgreSQL database given)."""

    def __init__(self, home: Path, *, database_url: str | None = None, log_path: Path | None = None,
                 port: int | None = None) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home, self.log_path, self.port = home, log_path or home / "server.log", port or free_port()
        api_url = f"http://127.0.0.1:{self.port}/api"
        # What a client needs. The UI needs PREFECT_UI_API_URL as well on a port other than 4200.
        self.env = {**QUIET_ENV, "PREFECT_HOME": str(home), "PREFECT_API_URL": api_url,
                    "PREFECT_UI_URL": api_url.removesuffix("/api")}
        self._server_env = {**os.environ, **self.env, "PREFECT_SERVER_API_HOST": "127.0.0.1",
                            "PREFECT_SERVER_API_PORT": str(self.port), "PREFECT_UI_API_URL": api_url}
        self._server_env.pop("PREFECT_UI_URL")
        if database_url:  # PostgreSQL (postgresql+asyncpg://...): the production setup; SQLite in its home otherwise
            self._server_env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
        self.process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return self.env["PREFECT_API_URL"]

    def start(self, timeout: float = 180.0) -> None:
        if prefect_db_template.seed(self.home, self._server_env):  # a fresh home: its block types are in it already
            self._server_env["PREFECT_API_BLOCKS_REGISTER_ON_START"] = "false"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self._server_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited with {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    prefect_db_template.save(self.home, self._server_env)
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"prefect server did not answer within {timeout:.0f}s; see {self.log_path}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)


@contextlib.contextmanager
def local_prefect_server(home: Path, *, log_path: Path | None = None, timeout: float = 180.0,
                         database_url: str | None = None) -> Iterator[dict]:
    """Run `prefect server start` with its own PREFECT_HOME (and its database at `database_url`, a
    postgresql+asyncpg:// URL, if given); yields the env that points clients at it."""
    server = PrefectServer(home, database_url=database_url, log_path=log_path)
    try:
        server.start(timeout)
        yield dict(server.env)
    finally:
        server.stop()


def flush_prefect_workers(timeout: float = 10.0) -> None:
    """Send the logs and events Prefect still queues, before the server they go to is stopped."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout)
