"""The secret canary's secrets and where it looks for them: the three canaries (unique to that test, so a hit can
only come from its run), a PostgreSQL cluster whose role really has the canary password, a sandbox whose signed
URLs carry the canary signature, and the scan of a place (bytes, files, an SQLite dump, PostgreSQL tables)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox import Sandbox
from tests.support.databases import _as_postgres, postgres_bin
from tools.prefect_server import free_port

# Unique to this test (not conftest's CANARY_SECRET), so a hit can only come from this run.
CLIENT_SECRET = "canaryClientSecret-91e4c7b2d0"
DB_PASSWORD = "canaryDbPassword-3fa86b5e17"
SIGNATURE = "canarySignature0c52d9e4"
CANARIES = {"client secret": CLIENT_SECRET, "database password": DB_PASSWORD, "signed-URL signature": SIGNATURE}


@contextlib.contextmanager
def postgres_with_password(password: str) -> Iterator[tuple[int, Path]]:
    """A PostgreSQL cluster whose `postgres` role has a password and every connection must give it
    (scram-sha-256, no trust). Yields its port and its server log; stopped and removed also on failure."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.fail("PostgreSQL is required for the secret canary but not installed (Debian package postgresql)")
    root = Path(tempfile.mkdtemp(prefix="spotdraft-canary-pg-"))
    data, pwfile, log = root / "data", root / "pwfile", root / "log"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    port = free_port()
    try:
        subprocess.run(_as_postgres([f"{bindir}/initdb", "-D", str(data), "-A", "scram-sha-256", "-U", "postgres",
                                     f"--pwfile={pwfile}", "--no-sync"]), check=True, capture_output=True)
        pwfile.unlink()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", str(data), "-o", options, "-l", str(log), "-w",
                                     "start"]), check=True, capture_output=True)
        yield port, log
    finally:
        subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def pg_connect(port: int, dbname: str):
    import psycopg

    return psycopg.connect(host="127.0.0.1", port=port, user="postgres", password=DB_PASSWORD, dbname=dbname,
                           autocommit=True)


def canary_signatures(sandbox: Sandbox, signature: str = SIGNATURE, *, whole: bool = False) -> None:
    """Every signature the sandbox's store hands out (and checks) carries `signature`: workspace files' and
    contract documents' URLs alike. With `whole`, every signature is exactly `signature` (for a scripted answer
    that repeats the one it was sent)."""
    store = sandbox.app.storage
    sign = store._signature
    store._signature = lambda method, file_id, expires: signature + ("" if whole else sign(method, file_id, expires))


@dataclass
class Place:
    """One place a secret could leak to, and what its scan found of `canaries` (label -> value)."""

    name: str
    canaries: dict[str, str] = field(default_factory=lambda: dict(CANARIES))
    items: int = 0
    size: int = 0
    hits: list[str] = field(default_factory=list)

    def scan(self, what: str, content: str | bytes, count: int = 1) -> None:
        data = content.encode("utf-8", "backslashreplace") if isinstance(content, str) else content
        self.items += count
        self.size += len(data)
        for label, canary in self.canaries.items():
            for match in re.finditer(re.escape(canary.encode()), data):
                start, end = max(0, match.start() - 160), match.end() + 60
                snippet = data[start:end].decode("utf-8", "replace").replace("\n", "\\n")
                self.hits.append(f"{label} in {what}: ...{snippet}...")


def scan_files(place: Place, directory: Path, skip: set[Path] = frozenset()) -> None:
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p not in skip):
        with contextlib.suppress(OSError):
            place.scan(str(path.relative_to(directory)), path.read_bytes())


def sqlite_dump(database: Path) -> dict[str, list[str]]:
    """Every row of every table of the server's database as text, per table (a canary split across
    raw pages would escape the byte scan), read from a copy so the original and its WAL stay as found."""
    copy_dir = Path(tempfile.mkdtemp(prefix="canary-prefect-db-"))
    try:
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{database}{suffix}").exists():
                shutil.copy(f"{database}{suffix}", copy_dir / f"prefect.db{suffix}")
        tables: dict[str, list[str]] = {}
        with contextlib.closing(sqlite3.connect(copy_dir / "prefect.db")) as conn:
            for line in conn.iterdump():
                found = re.match(r'INSERT INTO "?([^" (]+)', line)
                tables.setdefault(found.group(1) if found else "(schema)", []).append(line)
        return tables
    finally:
        shutil.rmtree(copy_dir, ignore_errors=True)


def dump_postgres(place: Place, port: int, dbname: str) -> dict[str, int]:
    counts = {}
    with pg_connect(port, dbname) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        for table in tables:
            rows = [r[0] for r in conn.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')]
            counts[table] = len(rows)
            place.scan(f"{dbname}.{table}", "\n".join(rows), count=len(rows))
    return counts
