"""kill -9 at random points of real archive processes: a file at a final name always has its row, an archived row
always has its file, and the next run completes the archive exactly.

Each run is a separate process archiving from a sandbox process (each executed contract with a new version of 2
to 8 MB, of one part or several on S3) into a local folder with SQLite, or an S3 server (moto) with PostgreSQL,
reporting to a real local Prefect server, and killed once a drawn number of files more are done or under way.
After each kill: every file under the base path is a hidden `.part` file or has a row in archived_documents or
archive_writes, and every archived_documents row has its file with its sha256. The killed run's leases are then
let lapse (their 15 minutes moved to the past) and the next run is started. At the end, one run to completion:
the files are exactly the rows, each with the sandbox's sha256, and no write is left open.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime

import pytest
from prefect.filesystems import LocalFileSystem

from sandbox import Faults, SandboxProcess
from store import engine_for, record_leases
from tests.support.archive import archived, stored, writes
from tests.support.paths import ROOT
from tests.support.s3 import s3_server


def start(sb, database_url: str, storage: dict, prefect_env: dict) -> subprocess.Popen:
    env = {**os.environ, **prefect_env, "SANDBOX_URL": sb.base_url, "SANDBOX_CLIENT_ID": sb.client_id,
           "SANDBOX_CLIENT_SECRET": sb.client_secret, "DATABASE_URL": database_url, "STORAGE": json.dumps(storage),
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "tests.support.archive_runner"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def assert_no_file_without_its_row(database_url: str, block) -> None:
    files = stored(block)
    rows = archived(database_url)
    open_writes = {w["path"] for w in writes(database_url)}
    recorded = {row["path"] for row in rows.values()}
    orphans = [p for p in files if not p.rpartition("/")[2].startswith(".") and p not in recorded | open_writes]
    assert not orphans, orphans
    assert all(files.get(row["path"]) == row["sha256"] for row in rows.values()), "an archived row lost its file"


def _progress(database_url: str) -> int:
    try:
        return len(archived(database_url)) + len(writes(database_url))
    except Exception:  # the runner has not made the tables yet
        return 0


@pytest.mark.timeout(900)  # real servers, a worker and a process per run, on a shared 2-core machine
@pytest.mark.parametrize("kind", ["sqlite-local", "postgresql-s3"])
def test_kill_minus_nine_at_random_points_leaves_no_file_without_its_row(kind, tmp_path, request, prefect_server_env):
    rng = random.Random(20261207)
    with s3_server() if kind.endswith("s3") else contextlib.nullcontext() as s3:
        if s3 is None:
            database_url, storage = f"sqlite:///{tmp_path / 'kills.db'}", {"basepath": str(tmp_path / "archive")}
            block = LocalFileSystem(**storage)
        else:
            from tests.support.databases import new_database

            database_url = new_database(request.getfixturevalue("postgres_server_url"))
            block = s3.block(f"kills-{uuid.uuid4().hex[:6]}")
            storage = {"basepath": block.basepath, "settings": block.settings}
        with SandboxProcess(contracts=24, seed=11, faults=Faults(p_latency=1.0, latency_ms=20)) as sb:
            executed = [c for c in sb.snapshot() if c["contract_status"] == "EXECUTED"]
            for contract in executed:
                sb.new_version(contract["id"], size=rng.randrange(2, 9) * 1024 * 1024)  # some of several parts
            kills = []
            for _ in range(6):
                before = len(archived(database_url))
                if len(executed) - before < 2 or sum(k.startswith("killed") for k in kills) >= 4:
                    break
                # Kill once a drawn number of the files left are done or under way, plus a drawn delay: before,
                # between and inside downloads, writes, renames and commits. The progress counts a killed run's open
                # writes, so the target is capped below the total, or it could never be passed.
                target = min(_progress(database_url) + rng.randrange(len(executed) - before - 1), len(executed) - 1)
                process = start(sb, database_url, storage, prefect_server_env)
                deadline = time.monotonic() + 120
                while process.poll() is None and time.monotonic() < deadline and _progress(database_url) <= target:
                    time.sleep(0.02)
                time.sleep(rng.uniform(0, 0.3))
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=30)
                    kills.append(f"killed with {len(archived(database_url))} archived, "
                                 f"{len(writes(database_url))} writes open")
                else:
                    kills.append("finished before the kill")
                assert_no_file_without_its_row(database_url, block)
                with engine_for(database_url).begin() as conn:  # the killed run's leases lapse (15 minutes later)
                    conn.execute(record_leases.update().values(expires_at=datetime(2000, 1, 1)))
            process = start(sb, database_url, storage, prefect_server_env)
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err.decode()[-3000:]
            rows = archived(database_url)
            expected = {c["composite_id"]: sb.document(c["id"]) for c in executed}
        print(f"\n{kind}:", *kills, sep="\n  ")
        assert {(cid, str(doc["version_id"])): doc["sha256"] for cid, doc in expected.items()} == {
            key: row["sha256"] for key, row in rows.items()}
        assert writes(database_url) == [] and stored(block) == {row["path"]: row["sha256"] for row in rows.values()}
    assert sum(k.startswith("killed") for k in kills) >= 2, kills
