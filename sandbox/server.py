"""Starting and stopping the sandbox: in a background thread, in the foreground, or as a process.

We bind the sockets ourselves and hand them to uvicorn, so the port is known (and free) before
the server starts, `--port 0` works, and the plain-http listener is just a second socket on the
same server. uvicorn runs with httptools and uvloop when present, no access log and warnings
only: the sandbox has to stay far faster than any client it is measuring.

`Sandbox` is what tests use (`with Sandbox(...) as sb:`); `SandboxProcess` runs
`python -m sandbox` for benchmarks and kill tests and drives it through `/_sandbox/` endpoints.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import uvicorn

from .app import SandboxApp, SandboxConfig
from .data import Contract, SandboxState
from .delivery import DeliveryAttempt
from .faults import Faults
from .recorder import RequestRecord

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


class Sandbox:
    """A SpotDraft-compatible API on loopback, seeded, with faults on demand.

    with Sandbox(contracts=50, seed=1, faults=Faults(p_5xx=0.1), http_port=True) as sb:
        httpx.get(sb.base_url + "/api/v2.1/public/contracts/", headers=sb.headers)

    `webhook_key` (Base64) fixes the workspace's webhook HMAC key, e.g. a test's canary; by default
    it is random. Webhook deliveries go out on background lanes that `stop()` ends.
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

    @property
    def faults(self) -> Faults:
        return self.app.faults

    @property
    def duplicate_rule(self) -> bool:
        """Whether a create with a taken external_metadata.id answers 409 (SpotDraft promises no such rule)."""
        return self.state.duplicate_rule

    @duplicate_rule.setter
    def duplicate_rule(self, value: bool) -> None:
        self.state.duplicate_rule = bool(value)

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

    # ------------------------------------------------------------------ state changes

    def touch(self, contract: int | str, *, name: str | None = None, status: str | None = None,
              at: Any = None) -> Contract:  # fmt: skip
        return self.state.touch(contract, name=name, status=status, at=at)

    def add_contracts(self, count: int, overrides: dict[str, Any] | None = None,
                      remove: tuple[str, ...] | list[str] = ()) -> list[Contract]:  # fmt: skip
        """`count` new contracts; with `overrides`/`remove`, poison records from the start (see poison)."""
        return self.state.add_contracts(count, overrides, remove)

    def poison(self, contract: int | str, *, remove: tuple[str, ...] | list[str] = (), **fields: Any) -> Contract:
        """Make one contract's list answers lie: `fields` replace list-answer fields with any JSON value,
        `remove` leaves fields out (even "id"). E.g. sb.poison(1003, contract_name={"en": "x"})."""
        return self.state.poison(contract, fields, remove)

    def external_id_counts(self) -> dict[str, int]:
        """Live contracts per external_metadata.id."""
        return self.state.external_id_counts()

    def duplicates(self) -> dict[str, list[int]]:
        """External ids held by more than one live contract -> their contract ids."""
        return self.state.duplicates()

    def delete_contract(self, contract: int | str) -> Contract:
        return self.state.delete(contract)

    def snapshot(self) -> list[dict[str, Any]]:
        return self.state.snapshot()

    def advance(self, contract: int | str, step: str, performed_by: str | None = None) -> Contract:
        """One lifecycle step, announced to webhook subscribers: send, request_signature, sign, execute,
        update_metrics (data.LIFECYCLE). StepRefused when the contract's status does not allow it."""
        return self.state.advance(contract, step, performed_by)

    # ------------------------------------------------------------------ webhooks

    def set_webhook_key(self, hmac_key: str) -> None:
        """Replace the workspace's webhook HMAC key (Base64); later deliveries are signed with it."""
        self.app.webhooks.set_key(hmac_key)

    @property
    def webhooks(self) -> list[dict[str, Any]]:
        """The workspace's subscriptions, as the create operation answered them."""
        return [s.as_json() for s in self.app.webhooks.all()]

    def webhook_deliveries(self, url: str | None = None, activity: str | None = None,
                           kind: str | None = None) -> list[DeliveryAttempt]:  # fmt: skip
        """Every delivery attempt, oldest first (see sandbox/delivery.py)."""
        return self.app.outbox.sender.log.records(url, activity, kind)

    def reset_webhook_deliveries(self) -> None:
        self.app.outbox.sender.log.reset()

    def set_webhook_delivery(self, **changes: Any) -> dict[str, Any]:
        """attempts, backoff_s, max_backoff_s, timeout_s (DeliverySettings)."""
        self.app.outbox.settings.update(**changes)
        return self.app.outbox.settings.as_dict()

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Until every queued delivery has been sent (or given up); False on timeout."""
        return self.app.outbox.sender.wait_idle(timeout)

    def send_webhook(self, kind: str, url: str | None = None, *, timeout: float = 30.0,
                     **options: Any) -> list[DeliveryAttempt]:  # fmt: skip
        """Send one misbehaving delivery (outbox.MISBEHAVIOURS) and wait for its attempt.
        Options: webhook_id, contract, activity, size, keep, delivery_id."""
        delivery = self.app.outbox.misbehave(kind, url=url, **options)
        return delivery.finished.result(timeout)

    # ------------------------------------------------------------------ faults and evidence

    def script(self, method: str | None, path_regex: str, outcome: int | str, times: int = 1,
               headers: dict[str, str] | None = None, body: Any = None,
               query_regex: str | None = None) -> None:  # fmt: skip
        """The next `times` requests matching method and path (and query) get `outcome`; see FaultInjector.script."""
        self.app.injector.script(method, path_regex, outcome, times, headers, body, query_regex)

    def clear_script(self) -> None:
        self.app.injector.clear_script()

    def set_faults(self, reseed: int | None = None, **changes: Any) -> None:
        self.app.faults.update(**changes)
        if reseed is not None:
            self.app.injector.reseed(reseed)

    @property
    def requests(self) -> list[RequestRecord]:
        return self.app.log.records()

    def request_log(self, method: str | None = None, path: str | None = None) -> list[RequestRecord]:
        return self.app.log.records(method, path)

    def request_counts(self) -> dict[str, int]:
        return dict(self.app.log.counts())

    def reset_log(self) -> None:
        self.app.log.reset()


# ---------------------------------------------------------------------------- subprocess


def fault_args(faults: Faults) -> list[str]:
    """CLI flags reproducing `faults` (the CLI derives its flags from the same dataclass)."""
    args: list[str] = []
    for f in fields(Faults):
        value = getattr(faults, f.name)
        if value == f.default or value is None:
            continue
        flag = "--fault-seed" if f.name == "seed" else "--" + f.name.replace("_", "-")
        args += [flag, str(value)]
    return args


class SandboxProcess:
    """`python -m sandbox` in a child process; same knobs as Sandbox, controlled over HTTP."""

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
        extra_args: list[str] | tuple[str, ...] = (),
        startup_timeout: float = 30.0,
        duplicate_rule: bool = True,
        webhook_key: str | None = None,
    ):
        self.client_id, self.client_secret = client_id, client_secret
        self.webhook_key = webhook_key
        self.startup_timeout = startup_timeout
        args = [sys.executable, "-m", "sandbox", "--host", host, "--port", str(port),
                "--contracts", str(contracts), "--seed", str(seed), "--client-id", client_id]  # fmt: skip
        if http_port is not False and http_port is not None:
            args += ["--http-port", "0" if http_port is True else str(http_port)]
        if not duplicate_rule:
            args.append("--no-duplicate-rule")
        self.args = args + fault_args(faults or Faults()) + list(extra_args)
        self.proc: subprocess.Popen[str] | None = None
        self.base_url: str | None = None
        self.http_url: str | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def headers(self) -> dict[str, str]:
        return {"client-id": self.client_id, "client-secret": self.client_secret}

    def start(self) -> SandboxProcess:
        env = {**os.environ, SECRET_ENV: self.client_secret, "PYTHONUNBUFFERED": "1"}
        if self.webhook_key is not None:
            env[WEBHOOK_KEY_ENV] = self.webhook_key
        self.proc = subprocess.Popen(self.args, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._pump, daemon=True, name="sandbox-stdout").start()
        want_http = "--http-port" in self.args
        deadline = time.monotonic() + self.startup_timeout
        while self.base_url is None or (want_http and self.http_url is None):
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError("the sandbox process did not report that it was listening")
            if line.startswith("sandbox listening on "):
                self.base_url = line.rsplit(" ", 1)[1]
            elif line.startswith("sandbox http listener on "):
                self.http_url = line.rsplit(" ", 1)[1]
        return self

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:  # keeps draining so the child never blocks on a full pipe
            self._lines.put(line.strip())
        self._lines.put(None)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, SIGKILL if it will not go. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        return self.proc.returncode

    def kill(self) -> int | None:
        """SIGKILL, no goodbye (for crash tests)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ admin calls

    def admin(self, method: str, path: str, json: Any = None, params: dict[str, str] | None = None,
              request_timeout: float = 10) -> Any:  # fmt: skip
        import httpx

        assert self.base_url is not None, "not started"
        response = httpx.request(method, f"{self.base_url}/_sandbox/{path.lstrip('/')}", json=json,
                                 params=params, timeout=request_timeout)  # fmt: skip
        response.raise_for_status()
        return response.json()

    def touch(self, contract: int | str, *, name: str | None = None, status: str | None = None,
              at: str | None = None) -> dict[str, Any]:  # fmt: skip
        body = {"id": contract, "name": name, "status": status, "at": at}
        return self.admin("POST", "touch", {k: v for k, v in body.items() if v is not None})

    def add_contracts(self, count: int, overrides: dict[str, Any] | None = None,
                      remove: tuple[str, ...] | list[str] = ()) -> list[dict[str, Any]]:  # fmt: skip
        body = {"count": count, "overrides": overrides or {}, "remove": list(remove)}
        return self.admin("POST", "contracts", body)["contracts"]

    def poison(self, contract: int | str, *, remove: tuple[str, ...] | list[str] = (), **fields: Any) -> dict[str, Any]:
        return self.admin("POST", "poison", {"id": contract, "fields": fields, "remove": list(remove)})

    @property
    def duplicate_rule(self) -> bool:
        return self.admin("GET", "settings")["duplicate_rule"]

    @duplicate_rule.setter
    def duplicate_rule(self, value: bool) -> None:
        self.admin("PUT", "settings", {"duplicate_rule": bool(value)})

    def external_id_counts(self) -> dict[str, int]:
        return self.admin("GET", "state")["external_ids"]

    def duplicates(self) -> dict[str, list[int]]:
        return self.admin("GET", "state")["duplicates"]

    def delete_contract(self, contract: int | str) -> dict[str, Any]:
        return self.admin("DELETE", f"contracts/{contract}")["deleted"]

    def snapshot(self) -> list[dict[str, Any]]:
        return self.admin("GET", "state")["contracts"]

    def advance(self, contract: int | str, step: str, performed_by: str | None = None) -> dict[str, Any]:
        body = {"performed_by": performed_by} if performed_by else None
        return self.admin("POST", f"contracts/{contract}/{step}", body)

    def set_webhook_key(self, hmac_key: str) -> None:
        self.admin("PUT", "webhooks/key", {"hmac_key": hmac_key})

    @property
    def webhooks(self) -> list[dict[str, Any]]:
        return self.admin("GET", "webhooks")["webhooks"]

    def webhook_deliveries(self, url: str | None = None, activity: str | None = None,
                           kind: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        query = {k: v for k, v in {"url": url, "activity": activity, "kind": kind}.items() if v is not None}
        return self.admin("GET", "webhooks/deliveries", params=query)["deliveries"]

    def reset_webhook_deliveries(self) -> None:
        self.admin("DELETE", "webhooks/deliveries")

    def set_webhook_delivery(self, **changes: Any) -> dict[str, Any]:
        return self.admin("PUT", "webhooks/settings", changes)

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        return self.admin("POST", "webhooks/wait", {"timeout": timeout}, request_timeout=timeout + 5)["idle"]

    def send_webhook(self, kind: str, url: str | None = None, *, timeout: float = 30.0,
                     **options: Any) -> list[dict[str, Any]]:  # fmt: skip
        body = {"kind": kind, "url": url, **options}
        return self.admin("POST", "webhooks/send", body, request_timeout=timeout)["attempts"]

    def script(self, method: str | None, path_regex: str, outcome: int | str, times: int = 1,
               headers: dict[str, str] | None = None, body: Any = None,
               query_regex: str | None = None) -> None:  # fmt: skip
        self.admin("POST", "script", {"method": method, "path_regex": path_regex, "outcome": outcome,
                                      "times": times, "headers": headers, "body": body,
                                      "query_regex": query_regex})  # fmt: skip

    def set_faults(self, reseed: int | None = None, **changes: Any) -> dict[str, Any]:
        return self.admin("PUT", "faults", {**changes, **({"reseed": reseed} if reseed is not None else {})})

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.admin("GET", "requests")["requests"]

    def request_counts(self) -> dict[str, int]:
        return self.admin("GET", "requests")["counts"]

    def reset_log(self) -> None:
        self.admin("DELETE", "requests")
