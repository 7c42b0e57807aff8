"""README.md read as tests/e2e/test_readme_commands.py reads it: its ```sh blocks, each with the
`<!-- readme-test: ... -->` marker before it (the markers' syntax is in that module's docstring), split into
command lines; and the command-like inline `code` spans outside the blocks."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from tests.support.paths import ROOT

README = ROOT / "README.md"
BARE = {"python", "python3", "pip", "pip3", "pytest", "uv", "ruff", "mypy"}  # only .venv/.tools have ours


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


def command_words(command: str) -> list[str]:
    """The command's words after any leading VAR=value assignments (a placeholder such as [--x N] kept)."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words.pop(0)
    return words


def all_commands() -> list[tuple[int, str]]:
    fenced = [(c.line, c.text) for b in BLOCKS for c in b.commands if not c.terminal]
    return fenced + INLINE


def readme_command(startswith: str) -> list[str]:
    """The README's command line that starts with `startswith`, split as a shell would."""
    for line in README_TEXT.splitlines():
        if line.startswith(startswith):
            return shlex.split(line.split("#")[0])
    raise AssertionError(f"the README shows no command starting with {startswith!r}")
