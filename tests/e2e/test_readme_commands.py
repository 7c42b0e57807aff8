"""The README's commands, run as written in a fresh clone of the repository.

Every ```sh block of README.md is preceded by a marker saying whether and how this module runs it:

    <!-- readme-test: run[; OPTION]... -->         every command line, in order, must exit 0
    <!-- readme-test: sandbox NAME (REASON) -->    it needs a real SpotDraft workspace: run against the
                                                   sandbox, saved as the credentials document NAME, with
                                                   the placeholder database URL given a SQLite file
    <!-- readme-test: skip (REASON) -->            not run (the reason is printed); still checked below

Options of `run`:

    skip "PREFIX" (REASON)   lines that start with PREFIX are not run (the reason is printed)
    ports N N ...            fixed ports moved to free ones, so the check can run beside other tests
    retry-last SECONDS       the last command is repeated until it exits 0 (the README says to wait) and, if
                             the command before it printed an `"id": N` (a contract the sandbox made), until it
                             prints its row (`('T-N', ...`)
    prefect-api ["URL"]      run with PREFECT_API_URL set to a Prefect server the test started (the README
                             says one is configured); URL, if given, is the README's stand-in for it

A block runs like a person pasting it into a shell at the clone's root: exported variables carry from
line to line, and a `# 2.`-style comment starts another terminal (a fresh environment). Long-running
commands (`BACKGROUND` below: servers, the worker) start in the background, are waited for until they
answer, and are stopped when the block ends, also when it fails. The environment is a fresh shell's:
no virtualenv on PATH, no PREFECT_* or SPOTDRAFT_* of the test session, a throwaway PREFECT_HOME.

Every command of every block, run or not, and every command-like inline `code` span must also name an
executable the fresh clone has (never a bare `python`: the project lives in .venv), its `-c` code must
compile and import, its `-m` module exist, its `make` target be in the Makefile and its `prefect`
subcommand exist.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.paths import ROOT, require_spec

README = ROOT / "README.md"
COMMAND_TIMEOUT = 600.0  # `make demo` takes about a minute on the shared machine; `make setup` in a clone ~10 s
BARE = {"python", "python3", "pip", "pip3", "pytest", "uv", "ruff", "mypy"}  # only .venv/.tools have ours
# Placeholders a `sandbox` block's commands have for what only a real installation has.
SANDBOX_PLACEHOLDERS = {"postgresql+psycopg://user@host/db": "sqlite:///{tmp}/readme-sync.db"}


# -- the README, parsed ------------------------------------------------------------------------------------
@dataclass
class Command:
    line: int  # of README.md, 1-based
    text: str  # one logical line (continuations joined)
    terminal: bool = False  # a `# 3.` comment: the next terminal starts here


@dataclass
class Marker:
    mode: str  # run | sandbox | skip
    reason: str = ""
    document: str = ""
    skips: list[tuple[str, str]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    retry_last: float = 0.0
    prefect_api: str | None = None  # run with a Prefect server of the test's; this text in a command stands for it

    def skipped(self, command: str) -> str | None:
        return next((reason for prefix, reason in self.skips if command.startswith(prefix)), None)


@dataclass
class Block:
    line: int  # of the opening fence
    lang: str
    marker_text: str | None
    commands: list[Command]

    @property
    def marker(self) -> Marker:
        return parse_marker(self.marker_text or "")


FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*readme-test:\s*(.*?)\s*-->\s*$")
SHELL = {"sh", "bash", "shell", "console"}


def _split_top(text: str, sep: str) -> list[str]:
    """`text` split at `sep` outside parentheses and double quotes."""
    parts, depth, quoted, current = [], 0, False, ""
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        if char == sep and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()]


def parse_marker(text: str) -> Marker:
    mode_text, *options = _split_top(text, ";")
    if m := re.fullmatch(r"run", mode_text):
        marker = Marker("run")
    elif m := re.fullmatch(r"skip \((.+)\)", mode_text):
        marker = Marker("skip", reason=m[1])
    elif m := re.fullmatch(r"sandbox (\S+) \((.+)\)", mode_text):
        marker = Marker("sandbox", reason=m[2], document=m[1])
    else:
        raise ValueError(f"readme-test marker {text!r}: expected `run`, `sandbox NAME (REASON)` or `skip (REASON)`")
    for option in options:
        if m := re.fullmatch(r'skip "([^"]+)" \((.+)\)', option):
            marker.skips.append((m[1], m[2]))
        elif m := re.fullmatch(r"ports((?: \d+)+)", option):
            marker.ports = [int(p) for p in m[1].split()]
        elif m := re.fullmatch(r"retry-last (\d+)", option):
            marker.retry_last = float(m[1])
        elif m := re.fullmatch(r'prefect-api(?: "([^"]+)")?', option):
            marker.prefect_api = m[1] or ""
        else:
            raise ValueError(f"readme-test marker {text!r}: unknown option {option!r}")
    if options and marker.mode != "run":
        raise ValueError(f"readme-test marker {text!r}: options are for `run` blocks")
    return marker


def parse_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence or not fence[2]:
            i += 1
            continue
        indent, lang, start = fence[1], fence[2], i
        marker = MARKER.match(lines[i - 1]) if i > 0 else None
        i += 1
        body: list[tuple[int, str]] = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append((i + 1, lines[i][len(indent):] if lines[i].startswith(indent) else lines[i]))
            i += 1
        blocks.append(Block(start + 1, lang, marker[1] if marker else None, _commands(body)))
        i += 1
    return blocks


def _commands(body: list[tuple[int, str]]) -> list[Command]:
    commands: list[Command] = []
    pending: tuple[int, str] | None = None
    for number, raw in body:
        stripped = raw.strip()
        if pending is None and (not stripped or stripped.startswith("#")):
            if re.match(r"#\s*\d+\.", stripped):
                commands.append(Command(number, stripped, terminal=True))
            continue
        start, text = pending if pending else (number, "")
        text += (" " if text else "") + stripped
        if text.endswith("\\"):
            pending = (start, text[:-1].rstrip())
        else:
            pending = None
            commands.append(Command(start, text))
    return commands


README_TEXT = README.read_text(encoding="utf-8")
BLOCKS = [b for b in parse_blocks(README_TEXT) if b.lang in SHELL]


def inline_commands(text: str) -> list[tuple[int, str]]:
    """Inline `code` spans (outside fenced blocks) that look like a command: make, python, prefect, ..."""
    found, in_fence = [], False
    starts = ("make ", ".venv/bin/", ".tools/bin/", "prefect ", "curl ", *(f"{b} " for b in BARE))
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for span in re.findall(r"`([^`\n]+)`", line):
            if span.startswith(starts):
                found.append((number, span))
    return found


INLINE = inline_commands(README_TEXT)


def _words(command: str) -> list[str]:
    """The command's words after any leading VAR=value assignments (a placeholder such as [--x N] kept)."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words.pop(0)
    return words


def _all_commands() -> list[tuple[int, str]]:
    fenced = [(c.line, c.text) for b in BLOCKS for c in b.commands if not c.terminal]
    return fenced + INLINE


# -- a fresh clone ---------------------------------------------------------------------------------------
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
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Clone:
    """`git clone` of HEAD (uncommitted edits stay out, as in anyone's clone), `shared/` beside it as the
    README expects for the spec, then `make setup`: the commands below run in what a new user has."""
    spec = require_spec()
    base = tmp_path_factory.mktemp("readme")
    root = base / "prefect-spotdraft"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(root)], check=True, timeout=120)
    (base / "shared").symlink_to(spec.parent, target_is_directory=True)
    env = fresh_shell_env(base / "prefect-home")
    setup = subprocess.run(["make", "setup"], cwd=root, env=env, capture_output=True, text=True,
                           timeout=COMMAND_TIMEOUT)
    assert setup.returncode == 0, f"`make setup` failed in a fresh clone:\n{setup.stdout}{setup.stderr}"
    return Clone(root, base, env)


# -- running a block ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str, expect: Callable[[httpx.Response], bool]) -> Callable[[dict, Path], bool]:
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
     lambda m: _answers("http://127.0.0.1:{PREFECT_SERVER_API_PORT}/api/health", lambda r: r.json() is True)),
    (re.compile(r"\bprefect worker start\b"), lambda m: _printed(r"Worker .* started")),
    (re.compile(r"-m sandbox\b.*--port (\d+)"), lambda m: _listening(m[1])),
    (re.compile(r"-m webhooks\b.*--port (\d+)"),
     lambda m: _answers(f"http://127.0.0.1:{m[1]}/healthz", lambda r: r.status_code == 200)),
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
def _background(command: Command, text: str, env: dict, clone: Clone, ready) -> Iterator[None]:
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
                background.enter_context(_background(command, text, env, clone, long_running))
            else:
                retry, want = (marker.retry_last, None) if command is runnable[-1] else (0.0, None)
                if retry and (made := re.search(r'"id":\s*(\d+)', printed)):
                    want = rf"\('?(?:[A-Z]+-)?{made[1]}'?,"
                env, printed = _foreground(command, text, env, clone, retry_for=retry, want=want)


# -- the tests ---------------------------------------------------------------------------------------------
def test_every_shell_block_is_marked():
    """A new ```sh block must say whether this module runs it, and why not when it does not."""
    problems = []
    for block in BLOCKS:
        if block.marker_text is None:
            problems.append(f"README.md:{block.line}: ```{block.lang} block without a `<!-- readme-test: ... -->` "
                            "line right before it (run, sandbox NAME (REASON) or skip (REASON))")
            continue
        try:
            marker = block.marker
        except ValueError as e:
            problems.append(f"README.md:{block.line}: {e}")
            continue
        texts = [c.text for c in block.commands if not c.terminal]
        problems += [f"README.md:{block.line}: skip \"{prefix}\" matches none of its commands"
                     for prefix, _ in marker.skips if not any(t.startswith(prefix) for t in texts)]
    assert not problems, "\n".join(problems)


def test_commands_use_the_projects_environment():
    """`python -c ...` in a new shell is the system's Python, without httpx: every command names .venv's."""
    problems = []
    for line, command in _all_commands():
        words = _words(command)
        if words and words[0] in BARE:
            problems.append(f"README.md:{line}: `{command}`: a bare `{words[0]}` is not the project's environment "
                            f"(.venv, built by `make setup`): write `.venv/bin/{words[0]}`")
        elif len(words) > 1 and words[0] == "prefect" and any(w.startswith("-") for w in words):
            problems.append(f"README.md:{line}: `{command}`: write `.venv/bin/prefect`")
    assert not problems, "\n".join(problems)


def test_workspace_steps_are_commands():
    """Each step of "Pointing it at a real SpotDraft workspace" that runs something gives a whole command."""
    section = README_TEXT.split("### Pointing it at a real SpotDraft workspace", 1)[1].split("\n#", 1)[0]
    steps = re.split(r"\n(?=\d+\. )", "\n" + section)
    running = [s.strip() for s in steps if re.match(r"\d+\. (Try|Run)\b", s.strip())]
    assert len(running) >= 2, f"the section's steps changed: {section}"
    missing = [step.splitlines()[0] for step in running if not re.search(r"^\s*```sh\s*$", step, re.M)]
    assert not missing, ("these steps tell the reader to run something but give no ```sh command to paste:\n"
                         + "\n".join(missing))


def test_commands_exist_in_a_fresh_clone(clone: Clone):
    """Every command, run here or not: its executable, `-c` code, `-m` module, make target, prefect subcommand."""
    problems, codes, modules, prefect_commands = [], [], set(), set()
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+):", (clone.root / "Makefile").read_text(), re.M))
    for line, command in _all_commands():
        words = _words(command)
        if not words:
            continue
        found = subprocess.run(["bash", "-c", f"command -v {shlex.quote(words[0])}"], cwd=clone.root,
                               env=clone.env, capture_output=True)
        if found.returncode != 0 and words[0] != "prefect":  # a bare `prefect server`: a name, checked below
            problems.append(f"README.md:{line}: `{command}`: `{words[0]}` is not a command in a fresh clone "
                            "after `make setup`")
        if words[0] == "make":
            problems += [f"README.md:{line}: `{command}`: no target `{w}` in the Makefile"
                         for w in words[1:] if "=" not in w and not w.startswith("-") and w not in targets]
        if "-c" in words and words[0].endswith("python"):
            codes.append((line, words[words.index("-c") + 1]))
        if "-m" in words and words[0].endswith("python"):
            modules.add((line, "-m " + words[words.index("-m") + 1]))
        if Path(words[0]).name == "prefect":
            sub = [w for w in words[1:] if not w.startswith("-")]
            sub = sub[: next((i for i, w in enumerate(sub) if not re.fullmatch(r"[a-z-]+", w)), len(sub))]
            prefect_commands.add((line, tuple(sub[:2])))
    for line, code in codes:
        try:
            tree = ast.parse(code)
        except SyntaxError as e:
            problems.append(f"README.md:{line}: its -c code does not compile: {e}")
            continue
        modules |= {(line, f"from {node.module} import {alias.name}") for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) for alias in node.names}
        modules |= {(line, f"import {alias.name}") for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
    check = (
        "import importlib, importlib.util, json, sys\n"
        "bad = {}\n"
        "for item in json.load(sys.stdin):\n"
        "    how, name, *attr = item.replace(' import ', ' ').split()\n"
        "    try:\n"
        "        module = importlib.import_module(name)\n"
        "        if attr and not hasattr(module, attr[0]): importlib.import_module(f'{name}.{attr[0]}')\n"
        "        if how == '-m' and hasattr(module, '__path__') and not importlib.util.find_spec(f'{name}.__main__'):\n"
        "            raise ImportError(f'{name} is a package without __main__: python -m cannot run it')\n"
        "    except Exception as e:\n"
        "        bad[item] = f'{type(e).__name__}: {e}'\n"
        "print(json.dumps(bad))\n"
    )
    names = sorted({name for _, name in modules})
    done = subprocess.run([".venv/bin/python", "-c", check], cwd=clone.root, env=clone.env, input=json.dumps(names),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    bad = json.loads(done.stdout)
    problems += [f"README.md:{line}: `{name}` fails in the fresh clone: {bad[name]}"
                 for line, name in sorted(modules) if name in bad]

    def helps(sub: tuple[str, ...]) -> subprocess.CompletedProcess:
        return subprocess.run([".venv/bin/prefect", *sub, "--help"], cwd=clone.root, env=clone.env,
                              capture_output=True, text=True, timeout=120)
    unique = sorted({sub for _, sub in prefect_commands})
    with ThreadPoolExecutor(4) as pool:
        answers = dict(zip(unique, pool.map(helps, unique), strict=True))
    problems += [f"README.md:{line}: `prefect {' '.join(sub)}` is not a Prefect command: {answers[sub].stderr[-500:]}"
                 for line, sub in sorted(prefect_commands) if answers[sub].returncode != 0]
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def readme_prefect_api(clone: Clone) -> Iterator[str]:
    """The Prefect server the README's configuration assumes: the clone's own, on a free port."""
    port = free_port()
    env = {**clone.env, "PREFECT_HOME": str(clone.base / "server-home")}
    command = Command(0, f".venv/bin/prefect server start --host 127.0.0.1 --port {port}")
    ready = _answers(f"http://127.0.0.1:{port}/api/health", lambda r: r.json() is True)
    with _background(command, command.text, env, clone, ready):
        yield f"http://127.0.0.1:{port}/api"


@pytest.mark.parametrize("block", BLOCKS, ids=[f"README.md:{b.line}" for b in BLOCKS])
def test_readme_block_runs(block: Block, clone: Clone, request):
    if block.marker_text is None:
        pytest.fail(f"README.md:{block.line}: no readme-test marker (see test_every_shell_block_is_marked)")
    marker = block.marker
    if marker.mode == "skip":
        pytest.skip(f"README.md:{block.line}: {marker.reason}")
    if marker.mode == "run":
        api = request.getfixturevalue("readme_prefect_api") if marker.prefect_api is not None else None
        run_block(block, clone, prefect_api=api)
        return
    api = request.getfixturevalue("readme_prefect_api")
    # sandbox: the block as written, against the sandbox saved under the document name it loads
    sandbox = request.getfixturevalue("sandbox")
    print(f"README.md:{block.line}: {marker.reason}")
    save = (f"from blocks import SpotDraftCredentials as C; C(client_id={sandbox.client_id!r}, "
            f"client_secret={sandbox.client_secret!r}, base_url={sandbox.base_url!r})"
            f".save({marker.document!r}, overwrite=True)")
    done = subprocess.run([".venv/bin/python", "-c", save], cwd=clone.root, capture_output=True, text=True,
                          env={**clone.env, "PREFECT_API_URL": api}, timeout=COMMAND_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    run_block(block, clone, {re.escape(k): v.format(tmp=clone.base) for k, v in SANDBOX_PLACEHOLDERS.items()},
              prefect_api=api)
