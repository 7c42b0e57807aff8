"""Shared fixtures: a real sandbox over loopback HTTP, credentials for it, and a real Prefect API.

Retry waits are shortened through the same environment variables users set, so the retry tests run
in milliseconds while exercising the real policy.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
os.environ["SPOTDRAFT_RETRY_MAX_ATTEMPTS"] = "4"
os.environ["SPOTDRAFT_RETRY_BASE_DELAY"] = "0.01"
os.environ["SPOTDRAFT_RETRY_MAX_DELAY"] = "2"
os.environ["SPOTDRAFT_RETRY_WINDOW"] = "30"
os.environ["SPOTDRAFT_TIMEOUT_READ"] = "2"

SPEC_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "spotdraft-openapi.yml"
CANARY_SECRET = "canary-Secret-7f3a9e21c4"


def missing(what: str, required: bool = False) -> None:
    """Skip for lack of `what` on a developer's machine; fail in CI, where it must be there."""
    if required or os.environ.get("CI"):
        pytest.fail(f"{what} (required in CI)")
    pytest.skip(what)


def require_spec() -> Path:
    """SpotDraft's OpenAPI document, read from beside the repository (never copied into it)."""
    if not SPEC_PATH.is_file():
        missing(f"SpotDraft's OpenAPI document is not beside the repository ({SPEC_PATH})")
    return SPEC_PATH


@pytest.fixture(scope="session")
def prefect_api():
    """A real Prefect API (temporary server on SQLite) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def sandbox():
    from sandbox import Sandbox

    with Sandbox(contracts=30, seed=7, http_port=True) as sb:
        yield sb


@pytest.fixture
def credentials(sandbox):
    from blocks import SpotDraftCredentials

    return SpotDraftCredentials(client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                                base_url=sandbox.base_url)


@pytest.fixture
def client(sandbox):
    from client import SpotDraftClient

    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url) as c:
        yield c


@pytest.fixture
def all_logs(caplog):
    """Every log record of every logger, at DEBUG, as text (for secret canaries)."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture(scope="session")
def postgres_server_url():
    from tests.databases import postgres_bin, postgres_server

    if postgres_bin() is None:
        missing("PostgreSQL is not installed; .ci/run installs it (Debian package postgresql)",
                required=bool(os.environ.get("SPOTDRAFT_REQUIRE_POSTGRES")))
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database of each kind the flows are tested on."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'spotdraft.db'}"
    from tests.databases import new_database

    return new_database(request.getfixturevalue("postgres_server_url"))
