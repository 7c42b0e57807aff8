"""`python -m flows.migrate` and `make migrate`: the URL read from the environment and handed over
unchanged, never echoed nor printed with its password, and one clear line when the database cannot be
reached.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
import sqlalchemy as sa

from store import engine_for
from store.migrate import main as migrate_main
from tests.support.databases import new_database
from tests.support.paths import DATABASES, ROOT


@pytest.mark.skipif("postgresql" not in DATABASES, reason="PostgreSQL is not installed")
def test_the_command_never_prints_a_password_given_in_the_query(postgres_server_url, capsys):
    url = new_database(postgres_server_url) + "?password=s3cret-in-query"  # trust auth: any password works
    assert migrate_main([url]) == 0
    assert migrate_main(["current", url]) == 0
    out = capsys.readouterr()
    assert "upgraded from" in out.out and "s3cret-in-query" not in out.out + out.err


def test_a_database_that_cannot_be_reached_fails_clearly_without_its_password(tmp_path, capsys):
    unreachable = "postgresql+psycopg://someone:s3cret-user@127.0.0.1:1/sync"
    with pytest.raises(sa.exc.OperationalError, match="Connection refused") as raised:
        engine_for(unreachable)
    assert "s3cret" not in str(raised.value)
    with pytest.raises(sa.exc.OperationalError, match="unable to open database file"):
        engine_for(f"sqlite:///{tmp_path}/no/such/dir/x.db")
    assert migrate_main([unreachable]) == 1 and migrate_main(["current", unreachable]) == 1
    err = capsys.readouterr().err
    assert err.count("error: (psycopg.OperationalError) connection failed") == 2
    assert "s3cret" not in err and "Traceback" not in err


# ------------------------------------------------------------------------------- make migrate, as written
@pytest.fixture
def make_migrate(tmp_path):
    """Runs `make migrate` with the Makefile's own recipe; uv is a stand-in that prints the argv and the
    DATABASE_URL it got (the recipe hands the URL over in the environment, never on a command line)."""
    fake_uv = tmp_path / "uv"
    fake_uv.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                       "print('GOT ' + json.dumps([sys.argv[1:], os.environ.get('DATABASE_URL')]))\n")
    fake_uv.chmod(fake_uv.stat().st_mode | stat.S_IEXEC)

    def run(database_url: str) -> tuple[subprocess.CompletedProcess, list[str], str | None]:
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "DATABASE_URL")}
        done = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.synced", "migrate", f"UV={fake_uv}",
                               f"DATABASE_URL={database_url}"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
        got = [json.loads(line[4:]) for line in done.stdout.splitlines() if line.startswith("GOT ")]
        return (done, *got[0]) if got else (done, [], None)

    return run


def test_make_migrate_runs_flows_migrate_with_the_url(make_migrate):
    done, argv, url = make_migrate("sqlite:///spotdraft-elsewhere.db")
    assert done.returncode == 0, done.stderr
    assert argv == ["run", "--frozen", "--no-sync", "python", "-m", "flows.migrate"]
    assert url == "sqlite:///spotdraft-elsewhere.db"


def test_make_migrate_does_not_echo_the_password(make_migrate):
    done, _argv, url = make_migrate("postgresql+psycopg://sync:s3cret-make@db.example/sync")
    assert url.endswith("@db.example/sync")
    assert "s3cret-make" not in done.stdout.replace(json.dumps(url), "") + done.stderr


@pytest.mark.parametrize("given, database_url", [
    ("sqlite:////srv/Application Support/spotdraft.db", "sqlite:////srv/Application Support/spotdraft.db"),
    ("postgresql+psycopg://sync@db.example/sync?sslmode=require&options=-csearch_path%3Dsync",
     "postgresql+psycopg://sync@db.example/sync?sslmode=require&options=-csearch_path%3Dsync"),
    ("sqlite:////srv/$$backup/spotdraft.db", "sqlite:////srv/$backup/spotdraft.db"),  # make's own escape of $
], ids=["space", "ampersand", "dollar"])
def test_make_migrate_hands_the_url_over_unchanged(make_migrate, given, database_url):
    _done, _argv, url = make_migrate(given)
    assert url == database_url


def test_the_command_reads_the_url_from_the_environment(tmp_path):
    from store.migrate import main

    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        assert main([]) == 0
    assert (tmp_path / "from-env.db").exists()
