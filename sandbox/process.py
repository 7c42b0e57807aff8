"""`SandboxProcess`: the sandbox as a child process (`python -m sandbox`), for benchmarks and kill tests.

Its controls are made from the declarations in controls.py: each calls its admin route (admin.py)
with the same arguments an in-process `Sandbox` method takes, and returns the answer as JSON.
"""

from __future__ import annotations

import inspect
import json as json_text
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from .controls import CONTROLS, VIEWS, Control, Controls, to_wire
from .faults import Faults
from .server import SECRET_ENV, WEBHOOK_KEY_ENV, Sandbox

REPO = Path(__file__).resolve().parents[1]


def fault_args(faults: Faults) -> list[str]:
    """CLI flags reproducing `faults` (the CLI derives its flags from the same dataclass)."""
    args: list[str] = []
    for f in fields(Faults):
        value = getattr(faults, f.name)
        if value == f.default or value is None:
            continue
        flag = "--fault-seed" if f.name == "seed" else "--" + f.name.replace("_", "-")
        if isinstance(value, bool):  # a switch: --rate-retry-after / --no-rate-retry-after
            args.append(flag if value else "--no-" + flag[2:])
        else:
            args += [flag, str(value)]
    return args


class SandboxProcess:
    """`python -m sandbox` in a child process; same knobs and controls as Sandbox, over HTTP.

    Each control answers what the in-process one does, as JSON (a contract as its snapshot dict)."""

    if TYPE_CHECKING:  # the controls are attached below, from the declarations

        def __getattr__(self, name: str) -> Any: ...

    def __init__(self, *positional: Any, extra_args: Sequence[str] = (), startup_timeout: float = 30.0,
                 **keywords: Any):
        """`Sandbox`'s own arguments, bound to its signature (so the knobs and their defaults are declared once),
        but for `log_limit` (no such flag) and `bearer_token` (a secret stays off the command line); and the
        child's: `extra_args` for its command line, `startup_timeout` to wait for it to listen."""
        if refused := sorted({"log_limit", "bearer_token"} & keywords.keys()):
            raise TypeError(f"SandboxProcess does not take {', '.join(refused)}")
        knobs = inspect.signature(Sandbox).bind(*positional, **keywords)
        knobs.apply_defaults()
        k = knobs.arguments
        self.client_id, self.client_secret = k["client_id"], k["client_secret"]
        self.webhook_key = k["webhook_key"]
        self.startup_timeout = startup_timeout
        command = [sys.executable, "-m", "sandbox", "--host", k["host"], "--port", str(k["port"]),
                   "--contracts", str(k["contracts"]), "--seed", str(k["seed"]), "--client-id", k["client_id"],
                   "--workspace-id", str(k["workspace_id"])]  # fmt: skip
        if k["http_port"] is not False and k["http_port"] is not None:
            command += ["--http-port", "0" if k["http_port"] is True else str(k["http_port"])]
        if not k["duplicate_rule"]:
            command.append("--no-duplicate-rule")
        self.args = command + fault_args(k["faults"] or Faults()) + list(extra_args)
        self.proc: subprocess.Popen[str] | None = None
        self.base_url: str | None = None
        self.http_url: str | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._http: httpx.Client | None = None  # the controls' connections, kept alive

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
        self._close_http()
        return self.proc.returncode

    def kill(self) -> int | None:
        """SIGKILL, no goodbye (for crash tests)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        self._close_http()
        return self.proc.wait()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ admin calls

    def admin(self, method: str, path: str, json: Any = None, params: dict[str, str] | None = None,
              request_timeout: float = 10) -> Any:  # fmt: skip
        assert self.base_url is not None, "not started"
        if self._http is None:
            self._http = httpx.Client()
        # ASCII-escaped JSON: a control's value may hold a lone surrogate, valid JSON only as \udXXX.
        body = None if json is None else json_text.dumps(json, ensure_ascii=True).encode()
        response = self._http.request(method, f"{self.base_url}/_sandbox/{path.lstrip('/')}", content=body,
                                      headers={"content-type": "application/json"} if body is not None else None,
                                      params=params, timeout=request_timeout)  # fmt: skip
        response.raise_for_status()
        return response.json()

    def _close_http(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _call(self, declared: Control, arguments: dict[str, Any]) -> Any:
        """One control over HTTP: path parameters in the path, the rest in the query or the body."""
        timeout = declared.wait(arguments) if declared.wait else 10
        sent = {declared.wire.get(k, k): to_wire(v) for k, v in arguments.items() if k not in declared.local}
        path = "/".join(quote(str(sent.pop(s[1:-1])), safe="") if s.startswith("{") else s
                        for s in declared.segments)  # fmt: skip
        if declared.method in ("GET", "DELETE"):
            query = {k: str(v) for k, v in sent.items() if v is not None}
            answer = self.admin(declared.method, path, params=query, request_timeout=timeout)
        else:
            answer = self.admin(declared.method, path, sent, request_timeout=timeout)
        return declared.result(answer)


def _remote(declared: Control) -> Any:
    signature = declared.signature

    def call(self: SandboxProcess, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        return self._call(declared, dict(list(bound.arguments.items())[1:]))

    call.__name__, call.__qualname__ = declared.name, f"SandboxProcess.{declared.name}"
    call.__doc__ = declared.fn.__doc__
    call.__signature__ = signature.replace(return_annotation="None" if declared.quiet else "Any")  # type: ignore[attr-defined]
    return call


def _attach() -> None:
    accessors: dict[str, dict[str, Any]] = {}
    for declared in CONTROLS:
        if not declared.python:
            continue
        if declared.role == "method":
            setattr(SandboxProcess, declared.name, _remote(declared))
        else:
            accessors.setdefault(declared.name, {})[declared.role] = _remote(declared)
    for name, pair in accessors.items():
        setattr(SandboxProcess, name, property(pair["getter"], pair.get("setter"), doc=pair["getter"].__doc__))
    for name in VIEWS:
        setattr(SandboxProcess, name, getattr(Controls, name))  # the same property, calling its own control


_attach()
