"""The archive on a real `prefect server`: its two deployments, an executed contract archived by the event trigger,
the daily deployment's run, and a secret canary over everything those runs reached.

Deployed without a storage block, the archive deployments are made with their schedule and trigger off; with a
Local File System block named spotdraft-archive, deployed again, they are on. An executed contract's
`spotdraft.contract.executed` event (as the webhook receiver emits it) starts a run through the trigger, in a
process worker, which archives that contract's file. The daily deployment then archives every other executed
contract, one of whose downloads the store refuses (403): a dead letter, whose text must name the refusal
without the URL's key.

Canaries: the SpotDraft client secret (in the credentials Block) and a signature carried by every URL the
sandbox's store signs (httpx's INFO request log is on in the flow runs; how many of its lines reached the
server is printed). Scanned: the server's logs, artifacts, flow
and task runs (states, results), parameters and events (API), its database (a dump of every table), every file
under PREFECT_HOME (results persisted there), the archive's database (dead letters included), and the output
of the server and the worker. Each place must hold something and no canary.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml
from prefect.filesystems import LocalFileSystem

from sandbox import Sandbox
from tests.support import canary
from tests.support.archive import archived, executed_documents, stored
from tests.support.paths import ROOT
from tests.support.prefect_server import run_deployment
from tools.prefect_server import local_prefect_server, stop_process_group

CLIENT_SECRET = "canaryArchiveSecret-5d1e0a7c93"
SIGNATURE = "canaryArchiveSignature7be2"
CANARIES = {"client secret": CLIENT_SECRET, "signed-URL signature": SIGNATURE}
DAILY, ON_EXECUTION = "archive-contracts/archive-contracts-daily", "archive-contracts/archive-contract-on-execution"


def python(env: dict, code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


def httpx_at_info(path):
    """Prefect's logging settings with httpx's request log (INFO) on, as a user debugging requests would have it:
    with PREFECT_LOGGING_EXTRA_LOGGERS, every request line of every flow run goes to the server."""
    from prefect.logging.configuration import DEFAULT_LOGGING_SETTINGS_PATH

    config = yaml.safe_load(DEFAULT_LOGGING_SETTINGS_PATH.read_text())
    config["loggers"]["httpx"] = {"level": "INFO"}
    path.write_text(yaml.safe_dump(config))
    return path


def archive_deployments(env: dict) -> dict[str, dict]:
    found = {}
    for name in (DAILY, ON_EXECUTION):
        deployment = canary.rest(env, "GET", f"/deployments/name/{name}")
        automations = [a for a in canary.rest(env, "POST", "/automations/filter", {}) if any(
            action.get("deployment_id") == deployment["id"] for action in a.get("actions", []))]
        found[name] = {**deployment, "automations": automations}
    return found


@pytest.mark.timeout(900)  # real servers, a worker and a process per run, on a shared 2-core machine
def test_the_archive_deployed_triggered_and_run_leaks_no_secret(tmp_path):
    home, folder = tmp_path / "prefect-home", tmp_path / "archive"
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with contextlib.ExitStack() as stack:
        sb = stack.enter_context(Sandbox(contracts=20, seed=5, client_secret=CLIENT_SECRET))
        canary.canary_signatures(sb, SIGNATURE)
        env = {**os.environ, **stack.enter_context(local_prefect_server(home)),
               "PREFECT_LOGGING_LEVEL": "INFO", "PREFECT_LOGGING_EXTRA_LOGGERS": "httpx",
               "PREFECT_LOGGING_SETTINGS_PATH": str(httpx_at_info(tmp_path / "logging.yml")),
               "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true", "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
               "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
        subprocess.run([sys.executable, "-m", "tools.secret_canary_runs", "setup"], cwd=ROOT, check=True, timeout=120,
                       env={**env, "CANARY_CLIENT_ID": sb.client_id, "CANARY_CLIENT_SECRET": CLIENT_SECRET,
                            "CANARY_BASE_URL": sb.base_url})

        # 1. Deployed without a storage block: off, and no storage parameter.
        output = canary.cli(env, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
        assert "schedule and trigger off" in output
        off = archive_deployments(env)
        assert [s["active"] for s in off[DAILY]["schedules"]] == [False]
        assert [a["enabled"] for a in off[ON_EXECUTION]["automations"]] == [False]
        assert "storage" not in off[DAILY]["parameters"]

        # 2. With the block, deployed again: on, the storage given by reference.
        python(env, f"from prefect.filesystems import LocalFileSystem as L; L(basepath={str(folder)!r}).save("
                    "'spotdraft-archive', overwrite=True)")
        canary.cli(env, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
        on = archive_deployments(env)
        assert [a["enabled"] for a in on[ON_EXECUTION]["automations"]] == [True]
        assert [s["active"] for s in on[DAILY]["schedules"]] == [True]
        assert set(on[ON_EXECUTION]["parameters"]["storage"]) == {"$ref"}
        canary.pause_schedules(env)
        for deployment in on.values():  # this test's database, not the worker's default
            canary.rest(env, "PATCH", f"/deployments/{deployment['id']}",
                 {"parameters": {**deployment["parameters"], "database_url": database_url}})
        worker_log = stack.enter_context(open(tmp_path / "worker.log", "wb"))
        worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", "spotdraft"],
                                  cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        stack.callback(stop_process_group, worker)

        # 3. A contract executed in SpotDraft: its event starts a run that archives its file.
        signing = next(c for c in sb.snapshot() if c["contract_status"] == "SIGN")
        sb.advance(signing["id"], "execute")
        python(env, "from prefect.events import emit_event; from tools.prefect_server import flush_prefect_workers; "
                    "emit_event(event='spotdraft.contract.executed', resource={'prefect.resource.id': "
                    f"'spotdraft.contract.{signing['id']}', 'spotdraft.contract.id': '{signing['id']}'}}); "
                    "flush_prefect_workers()")
        deadline, run = time.monotonic() + 120, None
        while run is None and time.monotonic() < deadline:
            run = next(iter(canary.runs_of(env, ON_EXECUTION)), None)
            time.sleep(0.5)
        assert run is not None, "the executed event started no archive run"
        assert run["parameters"]["contract_id"] == str(signing["id"])
        canary.wait_for(env, run["id"], {"COMPLETED"}, timeout=180)
        expected = executed_documents(sb)
        assert {cid for cid, _ in archived(database_url)} == {signing["composite_id"]}

        # 4. The daily deployment: every other executed contract, one of them refused by the store.
        refused = next(cid for cid in expected if cid != signing["composite_id"])
        sb.script("GET", re.escape(f"/_storage/documents/{refused}/"), 403, times=2,
                  body=f"<Error><Code>AccessDenied</Code><Message>denied</Message><Signature>{SIGNATURE}</Signature>"
                       "</Error>")
        daily = run_deployment(env, DAILY, {})
        canary.wait_for(env, daily, {"COMPLETED"}, timeout=180)
        rows = archived(database_url)
        assert {cid for cid, _ in rows} == set(expected) - {refused}
        assert all(rows[cid, str(doc["version_id"])]["sha256"] == doc["sha256"] for cid, doc in expected.items()
                   if cid != refused)
        assert stored(LocalFileSystem(basepath=str(folder))) == {
            row["path"]: row["sha256"] for row in rows.values()}
        with contextlib.closing(sqlite3.connect(tmp_path / "archive.db")) as conn:
            [(error_class, message)] = conn.execute("SELECT error_class, error_message FROM dead_letters").fetchall()
        assert error_class == "PermissionDeniedError" and "denied" in message and "403" in message

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and [r for r in canary.paged(env, "/flow_runs/filter")
                                               if (r.get("state") or {}).get("type") not in canary.TERMINAL]:
            time.sleep(0.5)
        time.sleep(2)  # the last logs and events reach the server
        signed = [r for r in sb.request_log("GET") if r.path.startswith("/_storage/documents/")]
        assert signed and all(SIGNATURE in r.query for r in signed)  # the canary went over the wire

        places = {name: canary.Place(name, CANARIES) for name in (
            "server logs (API)", "artifacts (API)", "flow runs and states (API)", "task runs and states (API)",
            "flow run parameters (API)", "events (API)", "archive database", "server database (SQL dump)",
            "PREFECT_HOME files", "server and worker output")}
        logs = canary.paged(env, "/logs/filter")
        places["server logs (API)"].scan("logs", "\n".join(json.dumps(e) for e in logs), count=len(logs))
        httpx_lines = sum(e.get("name") == "httpx" and "/_storage/" in (e.get("message") or "") for e in logs)
        artifacts = canary.paged(env, "/artifacts/filter")
        places["artifacts (API)"].scan("artifacts", json.dumps(artifacts), count=len(artifacts))
        for flow_run in canary.paged(env, "/flow_runs/filter"):
            states = canary.rest(env, "GET", f"/flow_run_states/?flow_run_id={flow_run['id']}")
            places["flow runs and states (API)"].scan(flow_run["name"], json.dumps([flow_run, states]), 1 + len(states))
            places["flow run parameters (API)"].scan(flow_run["name"], json.dumps(flow_run["parameters"]))
        for task_run in canary.paged(env, "/task_runs/filter"):
            states = canary.rest(env, "GET", f"/task_run_states/?task_run_id={task_run['id']}")
            places["task runs and states (API)"].scan(task_run["name"], json.dumps([task_run, states]), 1 + len(states))
        events = canary.read_events(env)
        places["events (API)"].scan("events", "\n".join(json.dumps(e) for e in events), count=len(events))
        with contextlib.closing(sqlite3.connect(tmp_path / "archive.db")) as conn:
            dump = list(conn.iterdump())
        places["archive database"].scan("archive.db", "\n".join(dump), count=len(dump))
        stack.close()  # worker, server and sandbox stopped; their files stay

    for table, lines in canary.sqlite_dump(home / "prefect.db").items():
        places["server database (SQL dump)"].scan(table, "\n".join(lines), count=len(lines))
    canary.scan_files(places["PREFECT_HOME files"], home)
    places["server and worker output"].scan("server.log", (home / "server.log").read_bytes())
    places["server and worker output"].scan("worker.log", (tmp_path / "worker.log").read_bytes())

    print("\n[archive canary]", *(f"{p.name}: {p.items} items, {p.size} bytes, {len(p.hits)} leaks"
                                  for p in places.values()),
          f"httpx lines about the store on the server: {httpx_lines}", sep="\n  ")
    problems = [f"{p.name}: nothing to scan" for p in places.values() if not p.items or not p.size]
    problems += [hit for p in places.values() for hit in p.hits]
    assert not problems, "\n".join(problems)
