"""Secret canary: a full run of the flows on a real Prefect server leaks none of three secrets anywhere.

Three canaries, each unique to this test: the SpotDraft client secret (saved in the credentials
Block on the server, and the only secret the sandbox accepts), the PostgreSQL password (the
database's role really has it; the supported way to give it is PGPASSWORD), and a signed storage
URL's signature (the sandbox's object store signs with a canary inside every signature).

The run, on `prefect server start` (its own PREFECT_HOME and SQLite database, a free port) with
the deployments of deployments/prefect.yaml and a process worker:
- in a separate process, as a user composing the flows would (tools/secret_canary_runs.py): a sync
  into PostgreSQL where one contract's key pointers answer 403 (a dead letter); a workspace file up
  and down with httpx's INFO request log turned on and sent to Prefect, with credentials built in
  code (an unsaved Block as a flow run parameter); and every flow called with the password inside
  its database URL (`user:PASSWORD@host` and `?password=`; the password is right, so a flow that
  accepted it would connect), which must be refused with an error that does not repeat it;
- through the create-contracts deployment (worker): one record refused, one create failing (402),
  one created; its dead letters start the review deployment through its trigger; the paused review
  is resumed through the API with a person's decisions and carries them out;
- the sync and the review deployments run with the password in their database URL, which must fail
  the same way, and the review that the failing sync starts through the trigger (which copies the
  failing run's database_url into its parameters).
The deployments' schedules are turned off first, so no cron run falls due during the test.

Then every place that run wrote is read and searched for the three canaries, and each place must
be non-empty (so a place that silently holds nothing cannot pass) and hold none of them: the
server's logs, artifacts, flow and task runs (states, messages, results), flow run parameters and
events (all read through the API), the server's database file and WAL (raw bytes and an SQL dump),
every file under PREFECT_HOME (local result storage included), the sync database's tables, the
exception texts of failed runs and refused calls, and the output of the server, the worker, the
in-process runs and PostgreSQL.
"""


from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from sandbox import Sandbox
from tests.support.paths import ROOT
from tests.support.prefect_rest import paged, pause_schedules, read_events, rest, runs_of, wait_for_run
from tests.support.prefect_server import TERMINAL, api, cli, run_deployment
from tests.support.secret_canary import (
    CANARIES,
    CLIENT_SECRET,
    DB_PASSWORD,
    SIGNATURE,
    Place,
    canary_signatures,
    dump_postgres,
    pg_connect,
    postgres_with_password,
    scan_files,
    sqlite_dump,
)
from tools.prefect_server import local_prefect_server, stop_process_group


def record(external_id: str, email: str | None) -> dict:
    poc = {"first_name": "Avery", **({"email": email} if email else {})}
    return {"external_id": external_id, "contract_data": {"customer_name": "Acme"},
            "counter_party_details": [{"is_individual": False, "organization_name": "Acme", "poc_details": poc}]}


def test_no_secret_leaves_a_full_run_on_a_real_prefect_server(tmp_path):
    started = time.monotonic()
    home = tmp_path / "prefect-home"
    work = tmp_path / "work"
    work.mkdir()
    problems: list[str] = []

    with contextlib.ExitStack() as stack:
        pg_port, pg_log = stack.enter_context(postgres_with_password(DB_PASSWORD))
        with pg_connect(pg_port, "postgres") as conn:
            conn.execute('CREATE DATABASE "canary_sync"')
            conn.execute('CREATE DATABASE "canary_refused"')
        database_url = f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/canary_sync"
        refused_db = f"127.0.0.1:{pg_port}/canary_refused"
        bad_urls = [
            {"kind": "password in userinfo", "url": f"postgresql+psycopg://postgres:{DB_PASSWORD}@{refused_db}"},
            {"kind": "password in query", "url": f"postgresql+psycopg://postgres@{refused_db}?password={DB_PASSWORD}"},
        ]

        sb = stack.enter_context(Sandbox(contracts=25, seed=88, client_secret=CLIENT_SECRET))
        canary_signatures(sb)
        prefect_env = stack.enter_context(local_prefect_server(home))
        env = {
            **os.environ, **prefect_env,
            "PGPASSWORD": DB_PASSWORD,                     # the supported way to give the password
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_LOGGING_EXTRA_LOGGERS": "httpx",      # httpx's records go to Prefect too
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",  # results land in PREFECT_HOME/storage
            "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        }

        # The server as an operator sets it up: the Block type, the credentials document, a pool, a
        # worker, the deployments.
        subprocess.run([sys.executable, "-m", "tools.secret_canary_runs", "setup"], cwd=ROOT, check=True,
                       timeout=120, env={**env, "CANARY_CLIENT_ID": sb.client_id, "CANARY_CLIENT_SECRET": CLIENT_SECRET,
                                         "CANARY_BASE_URL": sb.base_url})
        worker_log_path = home.parent / "worker.log"
        worker_log = stack.enter_context(open(worker_log_path, "wb"))  # closed by the stack
        worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", "spotdraft"],
                                  cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        stack.callback(stop_process_group, worker)
        deployed = cli(env, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
        assert pause_schedules(env) >= 2
        print(f"[canary] server, deployments and worker up after {time.monotonic() - started:.1f}s")

        # 1. In-process runs: a sync with one dead letter, a file up and down, the refused URLs.
        target = sb.snapshot()[0]["composite_id"]
        sb.script("GET", re.escape(f"/contracts/{target}/key_pointers"), 403, times=1)
        template = next(iter(sb.state.templates))
        driver = subprocess.run(
            [sys.executable, "-m", "tools.secret_canary_runs"], cwd=ROOT, capture_output=True, text=True,
            timeout=300,
            env={**env, "CANARY_DATABASE_URL": database_url, "CANARY_BAD_URLS": json.dumps(bad_urls),
                 "CANARY_TEMPLATE_ID": str(template), "CANARY_WORKDIR": str(work)},
        )
        driver_output = driver.stdout + driver.stderr
        assert driver.returncode == 0, driver_output[-5000:]
        steps = [json.loads(line.split(" ", 1)[1]) for line in driver.stdout.splitlines()
                 if line.startswith("CANARY-STEP ")]
        sync_step = next(s for s in steps if s["step"] == "sync")
        files_step = next(s for s in steps if s["step"] == "files")
        assert sync_step["state"] == "COMPLETED", sync_step
        assert files_step["state"] == "COMPLETED" and files_step["same_bytes"], files_step
        # The canary signature really went over the wire (PUT and GET), so a place that kept a signed
        # URL would hold it; the sandbox itself, playing the third-party store, is not scanned.
        signed = {r.method for r in sb.request_log() if r.path.startswith("/_storage/") and SIGNATURE in r.query}
        assert signed == {"PUT", "GET"}, signed
        refusals = [s for s in steps if s["step"] == "refusal"]
        assert len(refusals) == 6, refusals
        print(f"[canary] in-process runs done after {time.monotonic() - started:.1f}s")

        # 2. The create deployment through the worker: one refused record, one failing create, one created.
        sb.script("POST", r"/api/v2.1/public/contracts/$", 402, times=1,
                  body={"detail": "Contracts cannot be created from this template right now."})
        create = run_deployment(env, "create-contracts/create-contracts", {
            "template_id": template, "database_url": database_url, "concurrency": 1,
            "records": [record("canary-refused", None), record("canary-fail", "f@acme.example"),
                        record("canary-ok", "ok@acme.example")],
        })
        wait_for_run(env, create, {"COMPLETED"})
        print(f"[canary] create run completed after {time.monotonic() - started:.1f}s")

        # 3. Its dead letters start the review through the trigger; a person resumes it through the API.
        # A deadline: the trigger, the worker's poll, a new process (its clone, its imports) and the review's own
        # reads before it pauses, on a loaded machine (the browser test allows 120 s to start and 150 s to pause).
        deadline, review = time.monotonic() + 180, None
        while review is None and time.monotonic() < deadline:
            review = next((r for r in runs_of(env, "review-failed-operations/review-failed-operations")
                           if (r.get("state") or {}).get("type") == "PAUSED"), None)
            time.sleep(0.5)
        assert review is not None, "the create run's dead letters started no review that paused"
        print(f"[canary] review paused after {time.monotonic() - started:.1f}s")
        assert review["parameters"].get("triggered_by") == str(create)
        with pg_connect(pg_port, "canary_sync") as conn:
            letters = {(op, target): i for i, op, target in conn.execute(
                "SELECT id, operation, target FROM dead_letters WHERE status = 'pending'")}
        expected = {("get_contract_key_pointers", target), ("create_contract", "canary-refused"),
                    ("create_contract", "canary-fail")}
        assert expected <= set(letters), letters
        decisions = [
            {"dead_letter_id": letters["create_contract", "canary-refused"], "action": "retry_with_edits",
             "payload": record("canary-refused", "fixed@acme.example")},
            {"dead_letter_id": letters["create_contract", "canary-fail"], "action": "retry"},
            {"dead_letter_id": letters["get_contract_key_pointers", target], "action": "discard",
             "note": "looked at by hand"},
        ]
        api(env, lambda client: client.resume_flow_run(
            review["id"], run_input={"reviewer": "ops@acme.example", "decisions": decisions}))
        wait_for_run(env, review["id"], {"COMPLETED"})
        print(f"[canary] review completed after {time.monotonic() - started:.1f}s")
        with pg_connect(pg_port, "canary_sync") as conn:
            statuses = dict(conn.execute("SELECT target, status FROM dead_letters").fetchall())
        decided = {"canary-refused": "replayed", "canary-fail": "replayed", target: "discarded"}
        assert {k: statuses.get(k) for k in decided} == decided, statuses

        # 4. Deployment runs given a database URL with its password: refused as well. The failing
        # sync run also starts a review through the trigger, which copies its database_url.
        refused_runs: list[dict] = []
        started_runs = {}
        for kind, name, params in [
            ("sync deployment run, password in userinfo", "sync-contracts/sync-contracts-hourly",
             {"database_url": bad_urls[0]["url"]}),
            ("review deployment run, password in query", "review-failed-operations/review-failed-operations",
             {"database_url": bad_urls[1]["url"], "timeout_minutes": 0.05, "poll_seconds": 1}),
        ]:
            try:
                started_runs[kind] = run_deployment(env, name, params)
            except Exception as error:
                # Refused by the server against the parameter's pattern, before anything is stored. Its
                # answer (409) quotes the value back to the caller who sent it (jsonschema's wording, the
                # server's, not ours): that text goes nowhere else, so it is checked, not scanned.
                text = str(error)
                refused_runs.append({"kind": kind, "refused_by": "server", "status": "409" in text,
                                     "names_field": "Validation failed for field 'database_url'" in text, "message": "",
                                     "shown": text.replace(DB_PASSWORD, "<canary>")[:600]})
        bad_sync = started_runs.get("sync deployment run, password in userinfo")
        if bad_sync is not None:
            deadline, triggered = time.monotonic() + 120, None  # the failing run's events, then the trigger
            while triggered is None and time.monotonic() < deadline:
                triggered = next((r["id"] for r in runs_of(env, "review-failed-operations/review-failed-operations")
                                  if r["parameters"].get("triggered_by") == str(bad_sync)), None)
                time.sleep(0.5)
            if triggered is None:
                problems.append("the failing sync deployment run started no review")
            else:
                started_runs["review triggered by that failing sync (URL copied by the trigger)"] = triggered
        for kind, run_id in started_runs.items():
            run = wait_for_run(env, run_id, TERMINAL, timeout=120)
            refused_runs.append({"kind": kind, "refused_by": "flow", "state": run["state"]["type"],
                                 "message": run["state"].get("message") or ""})
        print(f"[canary] deployment runs done after {time.monotonic() - started:.1f}s")

        # Everything has settled: nothing running, pending or paused.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [r["name"] for r in paged(env, "/flow_runs/filter")
                    if (r.get("state") or {}).get("type") not in TERMINAL]
            if not busy:
                break
            time.sleep(0.5)
        assert not busy, f"runs still busy: {busy}"
        time.sleep(2)  # the last run's logs and events reach the server

        # ---- read what the server holds, through its API
        places = {name: Place(name) for name in (
            "server logs (API)", "artifacts (API)", "flow runs: states, messages, results (API)",
            "task runs: states, messages, results (API)", "flow run parameters (API)", "events (API)",
            "exception texts (failed runs, refused calls)", "sync database tables (PostgreSQL)",
            "server database file + WAL (raw bytes)", "server database (SQL dump of every table)",
            "PREFECT_HOME files", "local result storage (PREFECT_HOME/storage)", "server process output",
            "worker process output", "in-process runs' output", "PostgreSQL server log",
        )}
        logs = paged(env, "/logs/filter")
        places["server logs (API)"].scan("logs", "\n".join(json.dumps(entry) for entry in logs), count=len(logs))
        artifacts = paged(env, "/artifacts/filter")
        places["artifacts (API)"].scan("artifacts", json.dumps(artifacts), count=len(artifacts))
        flow_runs = paged(env, "/flow_runs/filter")
        failures: list[str] = []
        for run in flow_runs:
            history = rest(env, "GET", f"/flow_run_states/?flow_run_id={run['id']}")
            places["flow runs: states, messages, results (API)"].scan(
                f"flow run {run['name']}", json.dumps({"run": run, "states": history}), count=1 + len(history))
            places["flow run parameters (API)"].scan(f"parameters of {run['name']}", json.dumps(run["parameters"]))
            failures += [f"{run['name']}: {s.get('message')}" for s in history if s["type"] in {"FAILED", "CRASHED"}]
        task_runs = paged(env, "/task_runs/filter")
        for task_run in task_runs:
            history = rest(env, "GET", f"/task_run_states/?task_run_id={task_run['id']}")
            places["task runs: states, messages, results (API)"].scan(
                f"task run {task_run['name']}", json.dumps({"run": task_run, "states": history}),
                count=1 + len(history))
            failures += [f"{task_run['name']}: {s.get('message')}" for s in history
                         if s["type"] in {"FAILED", "CRASHED"}]
        events = read_events(env)
        places["events (API)"].scan("events", "\n".join(json.dumps(e) for e in events), count=len(events))
        exception_texts = failures + [f"{r['flow']} ({r['kind']}): {r.get('message', '')}\n{r.get('traceback', '')}"
                                      for r in refusals if r["refused"]]
        exception_texts += [f"{r['kind']}: {r['message']}" for r in refused_runs]
        places["exception texts (failed runs, refused calls)"].scan(
            "exceptions", "\n".join(exception_texts), count=len(exception_texts))
        with pg_connect(pg_port, "canary_sync") as conn:
            assert conn.execute("SELECT count(*) FROM contracts").fetchone()[0] == 25
        sync_tables = dump_postgres(places["sync database tables (PostgreSQL)"], pg_port, "canary_sync")
        refused_tables = dump_postgres(places["sync database tables (PostgreSQL)"], pg_port, "canary_refused")
        httpx_lines = sum(entry.get("name") == "httpx" for entry in logs)
        storage_lines = sum("/_storage/" in (entry.get("message") or "") for entry in logs)

        places["PostgreSQL server log"].scan("postgresql log", pg_log.read_bytes())

        stack.close()  # worker, server, sandbox and PostgreSQL stopped; the Prefect files stay

    # ---- what the stopped processes left behind
    database = home / "prefect.db"
    for suffix in ("", "-wal"):
        if Path(f"{database}{suffix}").exists():
            places["server database file + WAL (raw bytes)"].scan(database.name + suffix,
                                                                  Path(f"{database}{suffix}").read_bytes())
    for table, lines in sqlite_dump(database).items():
        places["server database (SQL dump of every table)"].scan(f"prefect.db table {table}", "\n".join(lines),
                                                                 count=len(lines))
    scan_files(places["PREFECT_HOME files"], home)
    if (home / "storage").is_dir():
        scan_files(places["local result storage (PREFECT_HOME/storage)"], home / "storage")
    places["server process output"].scan("server.log", (home / "server.log").read_bytes())
    places["worker process output"].scan("worker.log", worker_log_path.read_bytes())
    places["in-process runs' output"].scan("tools.secret_canary_runs stdout+stderr", driver_output)

    # ---- the report
    elapsed = time.monotonic() - started
    width = max(len(name) for name in places)
    print(f"\n[canary] scanned for {len(CANARIES)} canaries ({', '.join(CANARIES)}) after a run of {elapsed:.1f}s:")
    print(f"  {'place'.ljust(width)}  {'items':>7}  {'bytes':>10}  leaks")
    for place in places.values():
        print(f"  {place.name.ljust(width)}  {place.items:>7}  {place.size:>10}  {len(place.hits)}")
    print(f"  sync database rows per table: {sync_tables}; refused-URL database: {refused_tables or 'no tables'}")
    for step in [*refusals, *refused_runs]:
        print(f"  refused: {step.get('flow', '')} {step['kind']}: {step.get('error_type', '')} "
              f"{step.get('message', '(accepted)')[:200]!r}")
    print(f"  httpx log records on the server: {httpx_lines} ({storage_lines} about the signed store); "
          f"deploy output names {deployed.count('Deployment ')} deployments")

    for place in places.values():
        if not place.items or not place.size:
            problems.append(f"{place.name}: nothing was found to scan")
        for label in CANARIES:
            hits = [hit for hit in place.hits if hit.startswith(label + " in ")]
            if hits:
                shown = "\n    ".join(hits[:3]) + (f"\n    ... and {len(hits) - 3} more" if len(hits) > 3 else "")
                problems.append(f"LEAK of the {label} in {place.name} ({len(hits)}x):\n    {shown}")
    for step in refusals:
        if not step["refused"]:
            problems.append(f"{step['flow']} accepted a database URL with the password ({step['kind']})")
        elif "password" not in step["message"].lower():
            problems.append(f"{step['flow']} refused the URL ({step['kind']}) without saying why: {step['message']}")
    for run in refused_runs:
        if run["refused_by"] == "server":
            if not (run["status"] and run["names_field"]):
                problems.append(f"{run['kind']}: refused by the server, but not as an invalid database_url: "
                                f"{run['shown']}")
        elif run["state"] != "FAILED":
            problems.append(f"{run['kind']}: ran with a password in its database URL and ended {run['state']}")
        elif "password" not in run["message"].lower():
            problems.append(f"{run['kind']}: the refusal does not say why: {run['message']}")
    if not httpx_lines:
        problems.append("no httpx log record reached the server: the httpx INFO path was not exercised")
    if refused_tables:
        problems.append(f"a flow wrote to the database of a URL it should have refused: {refused_tables}")
    assert not problems, "\n".join(problems)
