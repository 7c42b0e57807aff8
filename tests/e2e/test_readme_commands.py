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
commands (`BACKGROUND` in tests/support/readme_runner.py: servers, the worker) start in the background,
are waited for until they answer, and are stopped when the block ends, also when it fails. The
environment is a fresh shell's: no virtualenv on PATH, no PREFECT_* or SPOTDRAFT_* of the test session,
a throwaway PREFECT_HOME.

Every command of every block, run or not, and every command-like inline `code` span must also name an
executable the fresh clone has (never a bare `python`: the project lives in .venv), its `-c` code must
compile and import, its `-m` module exist, its `make` target be in the Makefile and its `prefect`
subcommand exist.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import ROOT, require_spec
from tests.support.readme_blocks import BLOCKS, Block, Command, all_commands, command_words
from tests.support.readme_runner import (
    COMMAND_TIMEOUT,
    Clone,
    answers_at,
    fresh_shell_env,
    in_background,
    prefect_helps,
    run_block,
)
from tools.prefect_server import free_port

# Placeholders a `sandbox` block's commands have for what only a real installation has.
SANDBOX_PLACEHOLDERS = {"postgresql+psycopg://user@host/db": "sqlite:///{tmp}/readme-sync.db"}


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


def test_commands_exist_in_a_fresh_clone(clone: Clone):
    """Every command, run here or not: its executable, `-c` code, `-m` module, make target, prefect subcommand."""
    problems, codes, modules, prefect_commands = [], [], set(), set()
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+):", (clone.root / "Makefile").read_text(), re.M))
    for line, command in all_commands():
        words = command_words(command)
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

    answers = prefect_helps(clone, sorted({sub for _, sub in prefect_commands}))
    problems += [f"README.md:{line}: `prefect {' '.join(sub)}` is not a Prefect command: {answers[sub][1]}"
                 for line, sub in sorted(prefect_commands) if answers[sub][0] != 0]
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def readme_prefect_api(clone: Clone) -> Iterator[str]:
    """The Prefect server the README's configuration assumes: the clone's own, on a free port."""
    port = free_port()
    env = {**clone.env, "PREFECT_HOME": str(clone.base / "server-home")}
    command = Command(0, f".venv/bin/prefect server start --host 127.0.0.1 --port {port}")
    ready = answers_at(f"http://127.0.0.1:{port}/api/health", lambda r: r.json() is True)
    with in_background(command, command.text, env, clone, ready):
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
