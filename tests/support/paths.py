"""Where things are, for every test: the repository, SpotDraft's OpenAPI document, the databases the flows are
tested on, and the canary secret the secret-scanning tests look for."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CANARY_SECRET = "canary-Secret-7f3a9e21c4"


def _find_spec() -> Path:
    """SpotDraft's OpenAPI document (never copied into the repository): $SPOTDRAFT_OPENAPI, else
    `shared/` beside the repository, else beside the repository this one was cloned from locally."""
    name = Path("shared") / "spotdraft-openapi.yml"
    candidates = [Path(os.environ["SPOTDRAFT_OPENAPI"])] if os.environ.get("SPOTDRAFT_OPENAPI") else []
    candidates.append(ROOT.parent / name)
    origin = subprocess.run(["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True).stdout.strip()
    if origin and Path(origin).is_dir():  # a local clone, e.g. a fresh one made to try `make test`
        candidates.append(Path(origin).resolve().parent / name)
    return next((c for c in candidates if c.is_file()), candidates[-1])


SPEC_PATH = _find_spec()


def require_spec() -> Path:
    if not SPEC_PATH.is_file():
        pytest.fail(f"SpotDraft's OpenAPI document was not found (looked for {SPEC_PATH}); "
                    "put it in shared/ beside the repository or point SPOTDRAFT_OPENAPI at it")
    return SPEC_PATH


def _postgres_wanted() -> bool:
    """PostgreSQL runs wherever it is installed, and must be where it is required (CI)."""
    from tests.support.databases import postgres_bin

    return postgres_bin() is not None or bool(os.environ.get("SPOTDRAFT_REQUIRE_POSTGRES"))


DATABASES = ["sqlite", "postgresql"] if _postgres_wanted() else ["sqlite"]


@functools.cache
def spotdraft_spec() -> dict:
    """SpotDraft's OpenAPI document, parsed once per test process (shared: callers copy before changing it)."""
    from tools.synthesize_answers import load_spec

    return load_spec(require_spec())
