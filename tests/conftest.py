"""Shared fixtures: a real sandbox over loopback HTTP, credentials for it, and a real Prefect API.

Retry waits are shortened through the same environment variables users set, so the retry tests run
in milliseconds while exercising the real policy.

Layout, by behaviour: tests/unit/ (client, rate limiter, catalog, tasks, sandbox, store), tests/flows/ (one
directory per flow), tests/webhooks/, tests/e2e/, and tests/support/ (helpers, never tests).
Markers, decided here and nowhere else:
- `e2e`: every test under tests/e2e/, by its directory (real `prefect server` processes, the browser, kill -9,
  the README's commands). `make test` is `-m "not e2e"`; `make test-all` runs them too.
- `slow`: an e2e test, or a test on PostgreSQL (it uses the `postgres_server_url` fixture or the
  `database_url` parameter "postgresql"). `make test-lowest` runs `-m "not slow"`.
Servers (sandboxes, PostgreSQL, `prefect server`) are started by the fixture or test that needs them, on
free ports and temporary directories, and stopped by it, also on failure: pytest-xdist workers (each with
its own `prefect_test_harness`) share nothing.
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
os.environ.pop("SPOTDRAFT_DATABASE_URL", None)  # a developer's own database is never a test's default

from tests.support.paths import DATABASES, ROOT

# The deployments the tests make clone this checkout in each flow run (deployments/steps.py), never its origin,
# which may hold other commits or need credentials. (The deployment test that needs an origin makes its own.)
os.environ["SPOTDRAFT_GIT_REPOSITORY"] = str(ROOT)


def pytest_report_header(config) -> str:
    if "postgresql" in DATABASES:
        return "databases: SQLite and PostgreSQL"
    return "databases: SQLite only (PostgreSQL is not installed; .ci/run installs it)"


E2E_DIR = Path(__file__).resolve().parent / "e2e"
# The longest e2e modules (several minutes each), collected first: pytest-xdist's loadfile hands modules out in
# collection order, so these start at once and the shorter ones fill in beside them. Started last (in name
# order), they left one worker running alone for minutes at the end of the phase.
E2E_LONGEST_FIRST = ("test_readme_commands.py", "test_prefect_server.py")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "e2e: a test under tests/e2e/ (real `prefect server` processes, the browser, "
                                       "kills, the README's commands); set by tests/conftest.py")
    config.addinivalue_line("markers", "slow: an e2e test or a test on PostgreSQL, left out of `-m 'not slow'` "
                                       "(make test-lowest); set by tests/conftest.py")


def _on_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return "postgres_server_url" in item.fixturenames or (
        callspec is not None and callspec.params.get("database_url") == "postgresql")


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        e2e = item.path.is_relative_to(E2E_DIR)
        if e2e:
            item.add_marker(pytest.mark.e2e)
        if e2e or _on_postgres(item):
            item.add_marker(pytest.mark.slow)
    first = {name: rank for rank, name in enumerate(E2E_LONGEST_FIRST)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)) if item.path.parent == E2E_DIR else len(first))


@pytest.fixture(scope="session", autouse=True)
def data_home(tmp_path_factory) -> Path:
    """The user's data directory, where a flow given no database_url writes (store.database_url), made a
    temporary one for the session, for this process and the workers and servers it starts."""
    path = tmp_path_factory.mktemp("data-home")
    os.environ["XDG_DATA_HOME"] = str(path)
    return path


@pytest.fixture(scope="session")
def prefect_api():
    """A real Prefect API (temporary server on SQLite) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    # A deadline: each xdist worker starts its own at the same moment (migrations, block types: about 15 CPU seconds
    # each), 30 s on this 2-core machine in `make test`, 55 s with the e2e phase running beside it.
    with prefect_test_harness(server_startup_timeout=240):
        yield


@pytest.fixture(scope="module")
def prefect_server_env(tmp_path_factory):
    """A real `prefect server` (its own PREFECT_HOME, a free port) for a module's processes: the environment
    that points them at it (the kill tests' runners report there)."""
    from tools.prefect_server import local_prefect_server

    with local_prefect_server(tmp_path_factory.mktemp("prefect-home")) as env:
        yield env


@pytest.fixture
def sandbox():
    from sandbox import Sandbox

    with Sandbox(contracts=30, seed=7, http_port=True) as sb:
        yield sb


@pytest.fixture
def own_sandbox():
    """A sandbox on credentials of its own: a limiter left paused (or broken) by a test cannot meet another
    test's client (limiters live per process, keyed by credentials and host, and ports get reused)."""
    import uuid

    from sandbox import Sandbox

    with Sandbox(contracts=30, seed=7, client_id=f"break-{uuid.uuid4().hex[:8]}",
                 client_secret=f"s-{uuid.uuid4().hex}") as sb:
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
    from tests.support.databases import postgres_bin, postgres_server

    if postgres_bin() is None:
        pytest.fail("PostgreSQL is required here but not installed (Debian package postgresql)")
    with postgres_server() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh SQLite database file, for tests on SQLite alone."""
    return f"sqlite:///{tmp_path / 'spotdraft.db'}"


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    """A fresh, empty database of each kind the flows are tested on; its pooled connections closed after."""
    from store import dispose_engine

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'spotdraft.db'}"
    else:
        from tests.support.databases import new_database

        url = new_database(request.getfixturevalue("postgres_server_url"))
    yield url
    dispose_engine(url)  # its connections go back to the server
