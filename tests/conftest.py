"""Shared fixtures: a real sandbox over loopback HTTP, credentials for it, and a real Prefect API.

Retry waits are shortened through the same environment variables users set, so the retry tests run
in milliseconds while exercising the real policy.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
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

ROOT = Path(__file__).resolve().parents[1]
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
    from tests.databases import postgres_bin

    return postgres_bin() is not None or bool(os.environ.get("SPOTDRAFT_REQUIRE_POSTGRES"))


DATABASES = ["sqlite", "postgresql"] if _postgres_wanted() else ["sqlite"]


def pytest_report_header(config) -> str:
    if "postgresql" in DATABASES:
        return "databases: SQLite and PostgreSQL"
    return "databases: SQLite only (PostgreSQL is not installed; .ci/run installs it)"


# The fast suite is `pytest -m "not slow"`; CI also runs it against the lowest Prefect that pyproject.toml
# allows (`make test-lowest`). What is slow is decided here, in one place: a test on PostgreSQL; every test
# of a module that starts a real `prefect server` (it names tools.prefect_server.local_prefect_server; the
# browser test's does), found from what the module uses so that a new one is sorted without being listed;
# and the modules below, which run for minutes (on 2 shared cores: the fault matrix ~4, the long-run ~1.5).
LONG_RUNNING_MODULES = {"test_fault_matrix.py", "test_long_run.py", "test_readme_commands.py"}


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "slow: left out of the fast suite (`-m 'not slow'`); set by tests/conftest.py")


@functools.cache
def _starts_a_prefect_server(module: Path) -> bool:
    return "local_prefect_server" in module.read_text(encoding="utf-8")


def _is_slow(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    on_postgres = "postgres_server_url" in item.fixturenames or (
        callspec is not None and callspec.params.get("database_url") == "postgresql")
    return on_postgres or item.path.name in LONG_RUNNING_MODULES or _starts_a_prefect_server(item.path)


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)


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
        pytest.fail("PostgreSQL is required here but not installed (Debian package postgresql)")
    with postgres_server() as url:
        yield url


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    """A fresh, empty database of each kind the flows are tested on; its pooled connections closed after."""
    from flows.store import dispose_engine

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'spotdraft.db'}"
    else:
        from tests.databases import new_database

        url = new_database(request.getfixturevalue("postgres_server_url"))
    yield url
    dispose_engine(url)  # its connections go back to the server
