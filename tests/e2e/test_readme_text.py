"""README.md as text: every ```sh block says whether and how tests/e2e/test_readme_commands.py runs it, every
command names the project's environment (never a bare `python`), and each step of "Pointing it at a real
SpotDraft workspace" that runs something gives a whole command to paste."""

from __future__ import annotations

import re

from tests.support.readme_blocks import BARE, BLOCKS, README_TEXT, all_commands, command_words


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
    for line, command in all_commands():
        words = command_words(command)
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
