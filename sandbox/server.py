"""Starting and stopping the sandbox in-process: in a background thread, or in the foreground (the CLI).

We bind the sockets ourselves and hand them to uvicorn, so the port is known (and free) before the
server starts, `--port 0` works, and the plain-http listener is a second socket on the same server.
uvicorn runs with httptools and uvloop when present, no access log: the sandbox must stay far faster
than any client it measures. `Sandbox`'s controls are declared in controls.py; process.py runs one.
"""

from __future__ import annotations

import importlib.util
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn

from .app import SandboxApp, SandboxConfig
from .controls import Controls
from .data import SandboxState
from .faults import Faults

DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret-0000"
SECRET_ENV = "SANDBOX_CLIENT_SECRET"  # how SandboxProcess hands the secret over, off the command line
WEBHOOK_KEY_ENV = "SANDBOX_WEBHOOK_KEY"  # and the webhook HMAC key (Base64), when one is given
REPO = Path(__file__).resolve().parents[1]


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock


def _url(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn.Server that tells us when it serves, and wakes held requests before shutting down."""

    def __init__(self, config: uvicorn.Config, app: SandboxApp, on_ready: Callable[[], None] | None):
        super().__init__(config)
        self.sandbox_app = app
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.sandbox_app.bind_loop()
        await super().startup(sockets)
        if self.started and self.on_ready is not None:
            self.on_ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.sandbox_app.begin_shutdown()
        await super().shutdown(sockets)


def _uvicorn_config(app: SandboxApp) -> uvicorn.Config:
    fast = importlib.util.find_spec("uvloop") and importlib.util.find_spec("httptools")
    return uvicorn.Config(
        app,
        loop="uvloop" if fast else "asyncio",
        http="httptools" if fast else "h11",
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )


class Sandbox(Controls):
    """A SpotDraft-compatible API on loopback, seeded, with faults on demand.

    with Sandbox(contracts=50, seed=1, faults=Faults(p_5xx=0.1), http_port=True) as sb:
        httpx.get(sb.base_url + "/api/v2.1/public/contracts/", headers=sb.headers)

    `webhook_key` (Base64) fixes the workspace's webhook HMAC key, e.g. a test's canary; by default
    it is random. Webhook deliveries go out on background lanes that `stop()` ends. The controls
    (`sb.script(...)`, `sb.touch(...)`, `sb.reset()`, ...) are inherited from controls.Controls.
    """

    def __init__(
        self,
        contracts: int = 100,
        seed: int = 0,
        faults: Faults | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        http_port: bool | int = False,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        workspace_id: int = 1,
        bearer_token: str | None = None,
        log_limit: int = 100_000,
        duplicate_rule: bool = True,
        webhook_key: str | None = None,
    ):
        self.host = host
        self._port = port
        self._http_port = http_port
        self.client_id = client_id
        self.client_secret = client_secret
        self.state = SandboxState(contracts, seed, workspace_id, duplicate_rule=duplicate_rule)
        self.config = SandboxConfig(client_id, client_secret, workspace_id, bearer_token, host)
        self.app = SandboxApp(self.config, self.state, faults or Faults(), log_limit, webhook_key)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sockets: list[socket.socket] = []

    def __repr__(self) -> str:
        count, seed = len(self.state.contracts), self.state.seed
        return f"Sandbox(base_url={self.base_url!r}, contracts={count}, seed={seed})"

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        return self.config.main_port

    @property
    def base_url(self) -> str:
        return _url("http", self.host, self.config.main_port)

    @property
    def http_url(self) -> str | None:
        """The plain-http listener (every request: 302 to https), or None when not started."""
        return _url("http", self.host, self.config.http_port) if self.config.http_port else None

    @property
    def headers(self) -> dict[str, str]:
        """Auth headers for this sandbox's credential pair (convenience for tests)."""
        return {"client-id": self.client_id, "client-secret": self.client_secret}

    @property
    def users(self) -> list[str]:
        return [u.email for u in self.state.users]

    # ------------------------------------------------------------------ lifecycle

    def _bind(self) -> list[socket.socket]:
        main = bind(self.host, self._port)
        self.config.main_port = main.getsockname()[1]
        sockets = [main]
        if self._http_port is not False and self._http_port is not None:
            wanted = 0 if self._http_port is True else int(self._http_port)
            extra = bind(self.host, wanted)
            self.config.http_port = extra.getsockname()[1]
            sockets.append(extra)
        self._sockets = sockets
        return sockets

    def start(self, timeout: float = 15.0) -> Sandbox:
        if self._thread is not None:
            raise RuntimeError("already started")
        sockets = self._bind()
        self.app.outbox.sender.open()
        self._server = _Server(_uvicorn_config(self.app), self.app, None)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": sockets}, name="sandbox-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout)
        for sock in self._sockets:
            sock.close()
        self._server, self._thread, self._sockets = None, None, []
        self.app.outbox.sender.close()

    def serve_forever(self, on_ready: Callable[[Sandbox], None] | None = None) -> None:
        """Run in this thread until SIGINT/SIGTERM (the CLI). `on_ready` runs once serving."""
        sockets = self._bind()
        # uvicorn restores these after its own handlers ran and re-raises the signal it caught;
        # no-op handlers turn that re-raise into a clean return and exit status 0.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        server = _Server(_uvicorn_config(self.app), self.app, (lambda: on_ready(self)) if on_ready else None)
        self._server = server
        try:
            server.run(sockets=sockets)
        finally:
            for sock in sockets:
                sock.close()
            self.app.outbox.sender.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
