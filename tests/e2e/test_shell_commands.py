"""Everything the UI does, from a shell, as the README shows it: each deployment run with
`prefect deployment run ... --param/--params ... --watch` (which exits 0 only once its run ends Completed), and a
review answered with `python -m flows.review_answer`, whose decision is then carried out.

The two blocks below are the README's ("Everything from a shell"), character for character: keep them the same.
They run in a fresh clone set up as the README's local walkthrough leaves it (tests/support/deployed_clone.py: a
real `prefect server`, `prefect deploy --all`, a process worker) against the sandbox over HTTP, each command in
bash as a person types it, with the walkthrough's ports moved to the test's (and the review's `--wait` longer, see
`run`). Commands that do not depend on one another run at the same time, to keep the test short; then the database,
the sandbox and the review are checked.
"""
# ruff: noqa: E501 - the README's commands, verbatim

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from sandbox.process import SandboxProcess
from store import archived_documents, contracts, created_contracts, dead_letters, engine_for
from tests.support.deployed_clone import DeployedClone, deployed_clone
from tests.support.prefect_server import sync_api
from tests.support.readme_blocks import parse_blocks

DEPLOYMENT_RUNS = """\
```sh
export PREFECT_API_URL=http://127.0.0.1:4200/api
.venv/bin/prefect deployment run 'sync-contracts/sync-contracts-hourly' --watch
.venv/bin/prefect deployment run 'sync-contract/sync-contract-on-change' --param contract_id=T-1000 --watch \\
  --param 'credentials={"$ref": {"block_document_slug": "spotdraft-credentials/spotdraft"}}'
.venv/bin/prefect deployment run 'sync-analytics/sync-analytics-daily' --param 'tables=["contracts", "users"]' --watch
.venv/bin/prefect deployment run 'create-contracts/create-contracts' --params - --watch < deployments/examples/create-contracts.json
.venv/bin/prefect deployment run 'create-contracts/create-contracts' --param template_id=101 \\
  --param "records_file=$PWD/deployments/examples/records.csv" --watch
.venv/bin/python -c "from prefect.filesystems import LocalFileSystem as L; L(basepath='$PWD/contract-archive').save('spotdraft-archive', overwrite=True)"
.venv/bin/prefect deployment run 'archive-contracts/archive-contracts-daily' --watch \\
  --param 'storage={"$ref": {"block_document_slug": "local-file-system/spotdraft-archive"}}'
.venv/bin/prefect deployment run 'archive-contracts/archive-contract-on-execution' --param contract_id=T-1002 --watch \\
  --param 'storage={"$ref": {"block_document_slug": "local-file-system/spotdraft-archive"}}'
```
"""

REVIEW_FROM_A_SHELL = """\
```sh
export PREFECT_API_URL=http://127.0.0.1:4200/api
curl -s -X POST http://127.0.0.1:8080/_sandbox/script -H 'content-type: application/json' -d '{"method": "POST", "path_regex": "/contracts/$", "outcome": 402}'
.venv/bin/prefect deployment run 'create-contracts/create-contracts' --param template_id=100 --watch \\
  --param 'records=[{"external_id": "crm-0003", "contract_data": {"effective_date": "2026-03-01"}, "counter_party_details": [{"is_individual": true, "poc_details": {"first_name": "Sam", "last_name": "Okafor", "email": "sam.okafor@example.com"}}]}]'
.venv/bin/python -m flows.review_answer list --wait 120
.venv/bin/python -m flows.review_answer answer --reviewer you@example.com --all retry
.venv/bin/prefect deployment run 'review-failed-operations/review-failed-operations' --watch
```
"""

SAMPLE_EXTERNAL_IDS = {"crm-0001", "crm-0002", "crm-0101", "crm-0102"}
COMMAND_TIMEOUT = 300


def commands(block: str) -> tuple[str, list[str]]:
    """The block's `export` line and its commands (continuation lines joined, as the README test reads them)."""
    [parsed] = parse_blocks(block)
    export, *rest = [c.text for c in parsed.commands]
    assert export.startswith("export PREFECT_API_URL=")
    return export, rest


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The README's walkthrough, done: its sandbox (50 contracts, seed 1) and a deployed clone with a worker."""
    base = tmp_path_factory.mktemp("shell-commands")
    with SandboxProcess(contracts=50, seed=1) as sandbox, \
            deployed_clone(base, sandbox.base_url, sandbox.client_id, sandbox.client_secret) as clone:
        yield clone, sandbox


def test_every_command_runs_and_the_review_answered_from_a_shell_is_carried_out(stack):
    clone, sandbox = stack
    sandbox_port = sandbox.base_url.rsplit(":", 1)[1]
    seeded = {c["composite_id"] for c in sandbox.snapshot()}

    def run(command: str, export: str) -> tuple[str, float, str]:
        text = re.sub(r"\b8080\b", sandbox_port, re.sub(r"http://127\.0\.0\.1:4200/api", clone.api_url,
                                                          f"{export}\n{command}"))
        # The README's 120 s for the review to pause is a person's machine with one run at a time. Here it starts
        # with six other runs (each a new process and a clone): 28 s after it was made on a quiet 2-core machine,
        # 30 s for `list --wait`, so a slower CI machine with another e2e module beside it comes close. A deadline:
        # the command returns as soon as the review pauses.
        text = re.sub(r"--wait 120\b", f"--wait {COMMAND_TIMEOUT - 30}", text)
        began = time.monotonic()
        done = clone.shell(text, timeout=COMMAND_TIMEOUT)
        took = time.monotonic() - began
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"`{command}` exited {done.returncode} after {took:.0f} s:\n{output[-4000:]}"
        print(f"{took:5.1f} s  {command[:110]}")
        return command, took, output

    runs_export, runs = commands(DEPLOYMENT_RUNS)
    review_export, review = commands(REVIEW_FROM_A_SHELL)
    archive = [c for c in runs if "archive" in c]  # the storage block first, then its runs, in order
    creates = [c for c in runs if "create-contracts" in c]
    scripted, answered, by_hand = review[:2], review[2:4], review[4]
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(runs) + 2) as pool:
        def the_review() -> list:
            done = [run(c, review_export) for c in scripted]
            # The sandbox's scripted refusal was for that create: the other creates may go now.
            later = [pool.submit(run, c, runs_export) for c in creates]
            return done + [run(c, review_export) for c in answered] + [f.result() for f in later]

        # A review run by hand while another holds the letter finds nothing to review; if it is first, it is
        # the one that pauses and is answered: either way the same commands hold.
        alone = [pool.submit(run, c, runs_export) for c in runs if c not in archive + creates]
        alone.append(pool.submit(run, by_hand, review_export))
        chains = [pool.submit(lambda: [run(c, runs_export) for c in archive]), pool.submit(the_review)]
        outputs = [f.result() for f in alone] + [o for f in chains for o in f.result()]
    print(f"{len(outputs)} commands in {time.monotonic() - began:.0f} s; the runs, as the server saw them:")
    for flow_run in sorted(sync_api(clone.env, lambda api: api.read_flow_runs()), key=lambda r: r.created):
        ran = f"{(flow_run.start_time - flow_run.created).total_seconds():5.1f} s to start, " \
              f"{(flow_run.end_time - flow_run.start_time).total_seconds():5.1f} s" if flow_run.end_time else "-"
        print(f"  {flow_run.state.name:>13}  {ran}  {flow_run.name}")
    said = {command: output for command, _, output in outputs}

    # The review: listed from the shell, answered, and the decision carried out in SpotDraft and the database.
    listed = said[answered[0]]
    assert re.search(r"\n\s+1\s+create_contract\s+crm-0003\s+Sandbox scripted answer 402\.", listed), listed
    assert "The review ended Completed: 1 replayed" in said[answered[1]], said[answered[1]]
    database = database_url(clone)
    with engine_for(database).connect() as conn:
        letters = conn.execute(sa.select(dead_letters)).all()
        created = set(conn.execute(sa.select(created_contracts.c.external_id)).scalars())
        stored = set(conn.execute(sa.select(contracts.c.id)).scalars())
        archived = conn.execute(sa.select(archived_documents.c.contract_id, archived_documents.c.path)).all()
        analytics = set(conn.execute(sa.text("select table_name from analytics_snapshots")).scalars())
    assert [(r.target, r.status, r.decided_by) for r in letters] == [("crm-0003", "replayed", "you@example.com")]
    assert sandbox.external_id_counts().get("crm-0003") == 1  # created once, by the retry

    # Each deployment's run did its job.
    assert SAMPLE_EXTERNAL_IDS | {"crm-0003"} <= created
    assert all(sandbox.external_id_counts().get(i) == 1 for i in SAMPLE_EXTERNAL_IDS)
    assert seeded <= stored
    assert analytics == {"contracts", "users"}
    executed = {c["composite_id"] for c in sandbox.snapshot() if c["contract_status"] == "EXECUTED"}
    assert "T-1002" in executed and {r.contract_id for r in archived} == executed
    assert all((clone.root / "contract-archive" / r.path).is_file() for r in archived)
    assert all(sandbox.client_secret not in output for output in said.values())


def database_url(clone: DeployedClone) -> str:
    """The database the deployments write: their `database_url` parameter (a relative SQLite path is the worker's,
    which runs at the clone's root), else the flows' default as the worker computes it."""
    deployment = sync_api(clone.env, lambda api: api.read_deployment_by_name("sync-contracts/sync-contracts-hourly"))
    url = deployment.parameters.get("database_url") or clone.shell(
        ".venv/bin/python -c 'from store.database_url import default_database_url as u; print(u())'").stdout.strip()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = f"sqlite:///{clone.root / url.removeprefix('sqlite:///')}"
    return url
