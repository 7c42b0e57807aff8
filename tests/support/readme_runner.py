"""Running README.md's ```sh blocks as tests/e2e/test_readme_commands.py describes: in bash at the root of
a fresh clone, in a fresh shell's environment, long-running commands in the background until they answer
(stopped when the block ends, also when it fails), exports carried from line to line."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.readme_blocks import Block, Command
from tools.prefect_server import free_port

COMMAND_TIMEOUT = 600.0  # `make demo` takes about a minute on the shared machine; `make setup` in a clone ~10 s


@dataclass
class Clone:
    root: Path
    base: Path  # beside it: shared/ (the spec), PREFECT_HOME, logs
    env: dict[str, str]


def fresh_shell_env(home: Path) -> dict[str, str]:
    """A new terminal's environment: no virtualenv (`uv run` puts .venv/bin on PATH), none of the
    session's PREFECT_/SPOTDRAFT_ settings (conftest shortens retries), a PREFECT_HOME of its own."""
    venv_bins = {str(Path(sys.prefix) / "bin"), os.environ.get("VIRTUAL_ENV", "") + "/bin"}
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "SPOTDRAFT_", "PYTEST_", "SANDBOX_"))
           and k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "PYTHONHOME"}}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and p not in venv_bins and not p.endswith("/.venv/bin"))
    # The default database's directory (store.database_url) beside it: the README's commands never write the
    # user's own ~/.local/share/spotdraft.
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               XDG_DATA_HOME=str(home.parent / "data-home"))
    return env


def answers_at(url: str, expect: Callable[[httpx.Response], bool]) -> Callable[[dict, Path], bool]:
    def ready(env: dict, log: Path) -> bool:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            return expect(httpx.get(url.format(**env), timeout=2))
        return False
    return ready


def _listening(port: str) -> Callable[[dict, Path], bool]:
    def ready(env: dict, log: Path) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", int(port)), timeout=1):
            return True
        return False
    return ready


def _printed(pattern: str) -> Callable[[dict, Path], bool]:
    return lambda env, log: re.search(pattern, log.read_text(errors="replace")) is not None


# Long-running commands: how to tell each is ready. A command that runs for ever but is not listed here
# hangs its block until COMMAND_TIMEOUT, which then says to list it.
BACKGROUND: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Callable[[dict, Path], bool]]]] = [
    (re.compile(r"\bprefect server start\b"),
     lambda m: answers_at("http://127.0.0.1:{PREFECT_SERVER_API_PORT}/api/health", lambda r: r.json() is True)),
    (re.compile(r"\bprefect worker start\b"), lambda m: _printed(r"Worker .* started")),
    (re.compile(r"-m sandbox\b.*--port (\d+)"), lambda m: _listening(m[1])),
    (re.compile(r"-m webhooks\b.*--port (\d+)"),
     lambda m: answers_at(f"http://127.0.0.1:{m[1]}/healthz", lambda r: r.status_code == 200)),
]


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C as the README says, then TERM, then KILL, to the command's whole process group."""
    for sig, grace in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)


@contextlib.contextmanager
def in_background(command: Command, text: str, env: dict, clone: Clone, ready) -> Iterator[None]:
    log = clone.base / f"README-{command.line}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(["bash", "-c", text], cwd=clone.root, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not ready(env, log):
            if process.poll() is not None or time.monotonic() > deadline:
                why = f"exited {process.returncode}" if process.returncode is not None else "not ready in 180 s"
                pytest.fail(f"README.md:{command.line}: `{text}` (in the background) {why}:\n"
                            f"{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.5)
        print(f"README.md:{command.line}: started in the background: {text}")
        yield
    finally:
        _stop(process)


def _foreground(command: Command, text: str, env: dict, clone: Clone, retry_for: float = 0.0,
                want: str | None = None) -> tuple[dict, str]:
    """Run one command line in bash at the clone's root; the environment it leaves (its exports) and its
    output are returned. With `retry_for`, it is repeated until it exits 0 and prints `want` (a regex)."""
    env_file = clone.base / "env.out"
    script = f'{text}\n__rc=$?\nenv -0 > "{env_file}"\nexit $__rc\n'
    first = time.monotonic()
    deadline = first + retry_for
    while True:
        started = time.monotonic()
        try:
            done = subprocess.run(["bash", "-c", script], cwd=clone.root, env=env, capture_output=True,
                                  text=True, timeout=COMMAND_TIMEOUT, start_new_session=True)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"README.md:{command.line}: `{text}` did not finish in {COMMAND_TIMEOUT:.0f} s "
                        f"(if it is meant to run for ever, list it in BACKGROUND):\n{e.stdout}{e.stderr}")
        wanted = want is None or re.search(want, done.stdout) is not None
        if (done.returncode == 0 and wanted) or time.monotonic() > deadline:
            break
        time.sleep(3)
    output = (done.stdout + done.stderr)[-4000:]
    assert done.returncode == 0, (f"README.md:{command.line}: `{text}` exited {done.returncode} after "
                                  f"{time.monotonic() - started:.0f} s"
                                  f"{f' (retried for {retry_for:.0f} s)' if retry_for else ''}:\n{output}")
    assert wanted, f"README.md:{command.line}: `{text}` did not print {want!r} in {retry_for:.0f} s:\n{output}"
    waited = f" (after {started - first:.0f} s of retries)" if started > first else ""
    print(f"README.md:{command.line}: ran in {time.monotonic() - started:.1f} s{waited}: {text}\n"
          f"  {done.stdout[-300:]}")
    return dict(item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item), done.stdout


def run_block(block: Block, clone: Clone, substitutions: dict[str, str] | None = None,
              prefect_api: str | None = None) -> None:
    marker = block.marker
    substitutions = dict(substitutions or {})
    base_env = dict(clone.env)
    if prefect_api:
        base_env["PREFECT_API_URL"] = prefect_api
        if marker.prefect_api:
            substitutions[re.escape(marker.prefect_api)] = prefect_api
    for port in marker.ports:
        new = free_port()
        substitutions[rf"\b{port}\b"] = str(new)
        if port == 4200:  # `prefect server start`'s default port
            base_env["PREFECT_SERVER_API_PORT"] = str(new)
    runnable = [c for c in block.commands if not c.terminal and not marker.skipped(c.text)]
    with contextlib.ExitStack() as background:  # stopped last-started first: the worker before the server
        env, printed = dict(base_env), ""
        for command in block.commands:
            if command.terminal:
                env = dict(base_env)
                continue
            if reason := marker.skipped(command.text):
                print(f"README.md:{command.line}: not run ({reason}): {command.text}")
                continue
            text = command.text
            for pattern, value in substitutions.items():
                text = re.sub(pattern, value, text)
            long_running = next((make(m) for p, make in BACKGROUND if (m := p.search(text))), None)
            if long_running:
                background.enter_context(in_background(command, text, env, clone, long_running))
            else:
                retry, want = (marker.retry_last, None) if command is runnable[-1] else (0.0, None)
                if retry and (made := re.search(r'"id":\s*(\d+)', printed)):
                    want = rf"\('?(?:[A-Z]+-)?{made[1]}'?,"
                env, printed = _foreground(command, text, env, clone, retry_for=retry, want=want)


# `prefect SUB... --help` for each SUB in one process of the clone's Prefect: its CLI entry point, as
# .venv/bin/prefect calls it, with the exit status that script would have (about 4 CPU seconds a process saved).
_HELP_EACH = """\
import contextlib, io, json, sys
from prefect.cli import app
answers = []
for sub in json.load(sys.stdin):
    sys.argv, out = ["prefect", *sub, "--help"], io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            app()
        status = 0
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else int(e.code is not None)
    answers.append([status, out.getvalue()[-500:]])
print(json.dumps(answers))
"""


def prefect_helps(clone: Clone, subcommands: list[tuple[str, ...]]) -> dict[tuple[str, ...], tuple[int, str]]:
    """Each subcommand's `prefect ... --help` in the clone: its exit status and the end of its output."""
    done = subprocess.run([".venv/bin/python", "-c", _HELP_EACH], cwd=clone.root, env=clone.env, text=True,
                          input=json.dumps(subcommands), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    answers = json.loads(done.stdout.splitlines()[-1])
    return {sub: (status, text) for sub, (status, text) in zip(subcommands, answers, strict=True)}
