"""The database a flow writes when given none does not depend on the directory it runs in: $SPOTDRAFT_DATABASE_URL,
else spotdraft.db in the user's data directory; a database_url given to the flow still wins. The same default is
the migrate command's. Real flows (the Prefect test harness), the real sandbox over loopback HTTP, real SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from store import contracts, dispose_engine, engine_for
from store.database_url import data_directory, database_url_or_default, default_database_url
from tests.support.paths import ROOT


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """An empty data directory of this test's own, and no SPOTDRAFT_DATABASE_URL."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("SPOTDRAFT_DATABASE_URL", raising=False)
    return tmp_path / "data"


def stored_ids(url: str) -> set[str]:
    try:
        with engine_for(url).connect() as conn:
            return {row.id for row in conn.execute(sa.select(contracts.c.id))}
    finally:
        dispose_engine(url)


def test_without_a_setting_it_is_a_file_in_the_data_directory_made_for_it(data_home, monkeypatch, tmp_path):
    url = default_database_url()
    assert url == f"sqlite:///{data_home / 'spotdraft' / 'spotdraft.db'}"
    assert (data_home / "spotdraft").is_dir()
    monkeypatch.chdir(tmp_path)  # the same from any directory
    assert default_database_url() == url


def test_without_xdg_data_home_or_with_a_relative_one_it_is_under_the_home_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for value in (None, "relative/dir"):
        if value is None:
            monkeypatch.delenv("XDG_DATA_HOME", raising=False)
        else:
            monkeypatch.setenv("XDG_DATA_HOME", value)  # the XDG specification: a relative one is ignored
        assert data_directory() == tmp_path / ".local" / "share" / "spotdraft"


def test_the_setting_names_the_database_and_a_given_url_wins(data_home, monkeypatch):
    monkeypatch.setenv("SPOTDRAFT_DATABASE_URL", "postgresql+psycopg://etl@db.internal/contracts")
    assert default_database_url() == "postgresql+psycopg://etl@db.internal/contracts"
    assert database_url_or_default(None) == database_url_or_default("") == default_database_url()
    assert database_url_or_default("sqlite:////srv/x.db") == "sqlite:////srv/x.db"
    assert not data_home.exists()  # nothing made for a default not used


def test_a_setting_with_a_password_is_refused_naming_it_without_repeating_it(data_home, monkeypatch):
    monkeypatch.setenv("SPOTDRAFT_DATABASE_URL", "postgresql+psycopg://etl:Canary-pw-3@db/x")
    with pytest.raises(ValueError, match="SPOTDRAFT_DATABASE_URL carries a password") as refused:
        database_url_or_default(None)
    assert "Canary-pw-3" not in str(refused.value) and "PGPASSWORD" in str(refused.value)


@pytest.mark.usefixtures("prefect_api")
def test_a_flow_given_no_database_writes_the_default_and_a_given_one_still_wins(data_home, credentials, sandbox,
                                                                              monkeypatch, tmp_path):
    from flows import sync_contracts

    expected = {c["composite_id"] for c in sandbox.snapshot()}
    monkeypatch.chdir(tmp_path)  # as a worker's flow-run directory: nothing is written here
    summary = sync_contracts(credentials, reference_data=False)
    assert summary["contracts_read"] == len(expected)
    assert stored_ids(f"sqlite:///{data_home / 'spotdraft' / 'spotdraft.db'}") == expected
    assert list(tmp_path.glob("*.db")) == []

    chosen = f"sqlite:///{tmp_path / 'chosen.db'}"
    monkeypatch.setenv("SPOTDRAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'setting.db'}")
    sync_contracts(credentials, database_url=chosen, reference_data=False)
    assert stored_ids(chosen) == expected and not (tmp_path / "setting.db").exists()


def test_the_migrate_command_upgrades_the_default_database(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("SPOTDRAFT_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "flows.migrate"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    database = tmp_path / "data" / "spotdraft" / "spotdraft.db"
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"sqlite:///{database}: upgraded from") and database.is_file()
    help_run = subprocess.run([sys.executable, "-m", "flows.migrate", "--help"], cwd=ROOT,
                              env={**env, "XDG_DATA_HOME": str(tmp_path / "untouched")}, capture_output=True,
                              timeout=120)
    assert help_run.returncode == 0 and not (tmp_path / "untouched").exists()
