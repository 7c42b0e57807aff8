"""A new `prefect server`'s database, copied from the first one's instead of built again.

A server on a fresh PREFECT_HOME spends about 6 of its 15 CPU seconds of start-up creating its SQLite database:
Prefect's migrations (about 5 s) and the registration of every installed block type (about 2 s). The end-to-end
tests start a dozen servers, so tools/prefect_server.py keeps a copy of the first fresh server's database, taken
as soon as it answers (migrated, block types registered, nothing else written), and gives every later fresh home
a copy of it. The copy is keyed by the Prefect version and the environment's installed distributions: another
venv, version or collection (new block types) makes a new one. A home that has a database keeps its own.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sqlite3
import sys
import tempfile
from importlib import metadata
from pathlib import Path

DATABASE = "prefect.db"  # where `prefect server` keeps SQLite under PREFECT_HOME by default
# Set by the caller's environment, the server keeps its database elsewhere: no template is used then.
OWN_DATABASE = ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL")


@functools.cache
def _template() -> Path:
    installed = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    key = hashlib.sha256("\n".join([sys.prefix, *installed]).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "prefect-server-templates" / f"{key}.db"


def seed(home: Path, env: dict[str, str]) -> bool:
    """Copy the template into a fresh `home`; True if the server is to register no block types again."""
    target = home / DATABASE
    if any(env.get(name) for name in OWN_DATABASE) or target.exists() or not _template().exists():
        return False
    _copy(_template(), target)
    return True


def save(home: Path, env: dict[str, str]) -> None:
    """Keep the database of a server that has just answered for the first time, if there is no template yet."""
    source = home / DATABASE
    if any(env.get(name) for name in OWN_DATABASE) or _template().exists() or not source.exists():
        return
    _template().parent.mkdir(parents=True, exist_ok=True)
    partial = _template().with_suffix(f".{os.getpid()}.part")
    _copy(source, partial)
    os.replace(partial, _template())  # two processes writing it at once: the last one wins, whole


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup: consistent while the server runs (its WAL included)."""
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
