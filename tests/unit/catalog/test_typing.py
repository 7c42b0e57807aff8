"""Types that tell the truth: a user's type checker sees each of our tasks as the prefect Task it is.

mypy, with the configuration in tests/typing/mypy.ini, reads tests/support/typed_flow_example.py (a flow using
.submit, .map, .with_options, .fn and direct calls), the tasks package and the credentials Block, and
must find nothing there; in tests/typing/wrong_calls.py it must report each marked mistake and no other.
The example flow is also run, against the sandbox, so it is a flow that works as written.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tokenize

import pytest

from tests.support.paths import ROOT

CONFIG = "tests/typing/mypy.ini"
EXAMPLE = "tests/support/typed_flow_example.py"
WRONG = "tests/typing/wrong_calls.py"
CHECKED = [EXAMPLE, WRONG, "tasks", "blocks/credentials.py"]

ERROR = re.compile(r"^(?P<path>[^:\n]+):(?P<line>\d+): error: (?P<message>.*)$", re.MULTILINE)
EXPECT = re.compile(r"^#\s*expect:\s*(?P<text>.+?)\s*$")


@pytest.fixture(scope="module")
def mypy_errors(request: pytest.FixtureRequest) -> list[tuple[str, int, str]]:
    """mypy's errors as (path, line, message). Its cache lives in pytest's cache: a later run is warm."""
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache_dir = cache.mkdir("mypy") if cache is not None else ROOT / ".mypy_cache"
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", CONFIG, "--cache-dir", str(cache_dir),
         "--no-pretty", "--no-color-output", "--hide-error-context", *CHECKED],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    # 0: no error, 1: errors found; anything else is mypy itself failing (a bad config, a crash).
    assert run.returncode in (0, 1), run.stdout + run.stderr
    return [(m["path"], int(m["line"]), m["message"]) for m in ERROR.finditer(run.stdout)]


def expected_mistakes() -> dict[int, str]:
    """Line number -> the text its error must contain, from `# expect:` comments (not the docstring's)."""
    tokens = tokenize.generate_tokens(io.StringIO((ROOT / WRONG).read_text()).readline)
    return {t.start[0]: m["text"] for t in tokens if t.type == tokenize.COMMENT and (m := EXPECT.match(t.string))}


def test_the_example_flow_and_our_tasks_type_check(mypy_errors):
    elsewhere = [e for e in mypy_errors if e[0] != WRONG]
    assert elsewhere == [], "\n".join(f"{p}:{n}: {m}" for p, n, m in elsewhere)


def test_each_wrong_call_is_refused_with_its_own_error(mypy_errors):
    expected = expected_mistakes()
    assert len(expected) >= 5  # the markers were read: a broken pattern must not pass as "nothing expected"
    found: dict[int, list[str]] = {}
    for path, line, message in mypy_errors:
        if path == WRONG:
            found.setdefault(line, []).append(message)
    missing = {n: text for n, text in expected.items() if not any(text in m for m in found.get(n, []))}
    unexpected = {n: m for n, m in found.items() if n not in expected}
    assert missing == {}, f"expected errors not reported: {missing}; mypy said: {found}"
    assert unexpected == {}, f"errors on lines not marked: {unexpected}"


@pytest.mark.usefixtures("prefect_api")
def test_the_example_flow_runs_as_written(credentials):
    from tests.support.typed_flow_example import contract_overview

    result = contract_overview(credentials, limit=3)

    assert len(result["ids"]) == len(result["statuses"]) == 3
    assert all(set(s) >= {"contract_status", "contract_name"} for s in result["statuses"]), result["statuses"]
    assert result["once"] == result["plain"] == result["statuses"][0]
    assert result["after"] == result["statuses"][-1]
    assert result["state"] == result["templates"] and "items" in result["templates"]
    assert result["upload"]["file_id"] and result["upload"]["bytes"] == len(b"%PDF-1.4\n")
