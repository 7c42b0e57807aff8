"""End to end on a real Prefect server, the way operators run it.

`prefect server start` (SQLite, a free port) and the sandbox on loopback; the Block type registered
and a credentials document created; `prefect deploy --all` from the repository; a process worker;
the sync deployment run through the API as the UI does and its database compared with the sandbox;
two create runs that dead-letter records, each of which starts a review through the deployment
trigger, every letter offered by exactly one paused review; a sync run failing while those wait,
which starts its own review offering only its letter; each review resumed with a person's input
through the API, and the outcome checked in the database and in SpotDraft. Everything started here
is stopped, also on failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from uuid import UUID

import pytest
import sqlalchemy as sa
import yaml

from sandbox import Sandbox
from store import contracts, dead_letters, engine_for
from tests.support.paths import ROOT
from tests.support.prefect_rest import pause_schedules
from tests.support.prefect_server import api, cli, run_deployment, wait_for
from tools.prefect_server import local_prefect_server, stop_process_group

TRIGGER_WITHIN_S = 60  # the review trigger's debounce window (per failing run) in deployments/prefect.yaml


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A real Prefect server, a sandbox, the deployments and a running process worker."""
    home = tmp_path_factory.mktemp("prefect-e2e")
    with Sandbox(contracts=40, seed=21) as sb, local_prefect_server(home) as prefect_env:
        env = {
            **os.environ,
            **prefect_env,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
            "PREFECT_LOGGING_LEVEL": "INFO",
        }
        cli(env, "block", "register", "-m", "blocks")
        save = (
            "from blocks import SpotDraftCredentials as C; import os; "
            "C(client_id=os.environ['SB_ID'], client_secret=os.environ['SB_SECRET'], "
            "base_url=os.environ['SB_URL']).save('spotdraft', overwrite=True)"
        )
        subprocess.run(
            [sys.executable, "-c", save],
            cwd=ROOT,
            check=True,
            timeout=120,
            env={**env, "SB_ID": sb.client_id, "SB_SECRET": sb.client_secret, "SB_URL": sb.base_url},
        )
        cli(env, "work-pool", "create", "spotdraft", "--type", "process", "--overwrite")
        out = cli(env, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
        assert out.count("Deployment '") >= 3, out
        # Only the runs the tests start: the hourly sync falling due at the top of an hour would run against the same
        # sandbox, and could take the 401 scripted for the test's failing sync.
        pause_schedules(env)
        worker_log = open(home / "worker.log", "wb")  # noqa: SIM115 - closed below
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "spotdraft"],
            cwd=ROOT,
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield {"env": env, "sandbox": sb, "home": home}
        finally:
            stop_process_group(worker, grace=3)  # an idle worker needs no graceful exit here
            worker_log.close()


def review_runs(env: dict) -> list:
    """The review runs started by the trigger (not the sweep's scheduled ones)."""
    async def read(client):
        deployment = await client.read_deployment_by_name("review-failed-operations/review-failed-operations")
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        return await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
        )

    return [r for r in api(env, read) if r.parameters.get("triggered_by")]


def test_deploy_sync_dead_letter_review_and_resume(stack, tmp_path):
    env, sb = stack["env"], stack["sandbox"]
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"

    # The forms: every parameter has a title and a description; credentials is a Block reference.
    async def deployments(client):
        return {d.name: d for d in await client.read_deployments()}

    found = api(env, deployments)
    document = api(env, lambda c: c.read_block_document_by_name("spotdraft", "spotdraft-credentials",
                                                                  include_secrets=False))
    config = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    [trigger] = next(d for d in config["deployments"] if d["name"] == "review-failed-operations")["triggers"]
    assert trigger["within"] == TRIGGER_WITHIN_S and trigger["for_each"] == ["prefect.resource.id"]
    assert {"sync-contracts-hourly", "create-contracts", "review-failed-operations"} <= set(found)
    for deployment in found.values():
        for name, prop in deployment.parameter_openapi_schema["properties"].items():
            assert prop.get("title") and prop.get("description"), (deployment.name, name)
        # By id, which the UI's picker shows (the build step looks it up); never the document's data.
        assert deployment.parameters["credentials"] == {"$ref": {"block_document_id": str(document.id)}}
    schedules = {s.slug: s for s in found["sync-contracts-hourly"].schedules}
    assert schedules["hourly-incremental"].schedule.cron == "0 * * * *"
    assert schedules["hourly-incremental"].parameters == {}
    assert schedules["weekly-full-refresh"].parameters == {"full_refresh": True}
    # No concurrency limit on reviews (claims keep them apart); a sweep offers what is left pending.
    assert found["review-failed-operations"].global_concurrency_limit is None
    assert [s.slug for s in found["review-failed-operations"].schedules] == ["pending-sweep"]
    assert found["sync-contracts-hourly"].concurrency_options.collision_strategy == "ENQUEUE"

    # 1. The scheduled sync, run now through the API as the UI's Run button does.
    sync_run = run_deployment(env, "sync-contracts/sync-contracts-hourly", {"database_url": database_url})
    wait_for(env, sync_run, {"COMPLETED"})
    with engine_for(database_url).connect() as conn:
        stored = {r.id for r in conn.execute(sa.select(contracts.c.id))}
    assert stored == {c["composite_id"] for c in sb.snapshot()}

    # 2. Two create runs close together, each dead-lettering a bad record: each failing run gets a
    #    review at once (no shared debounce window), and each letter is offered by exactly one of them.
    template = next(iter(sb.state.templates))

    def record(external_id: str, email: str | None) -> dict:
        poc = {"first_name": "Avery", **({"email": email} if email else {})}
        return {
            "external_id": external_id,
            "contract_data": {"customer_name": "Acme"},
            "counter_party_details": [{"is_individual": False, "organization_name": "Acme", "poc_details": poc}],
        }

    creates = [
        run_deployment(
            env,
            "create-contracts/create-contracts",
            {
                "template_id": template,
                "database_url": database_url,
                "records": [record(f"e2e-ok-{i}", "ok@acme.example"), record(f"e2e-bad-{i}", None)],
            },
        )
        for i in range(2)
    ]
    for run_id in creates:
        wait_for(env, run_id, {"COMPLETED"})
    claims = wait_for_claims(env, database_url, {"e2e-bad-0", "e2e-bad-1"})
    reviews = review_runs(env)
    assert len(reviews) <= len(creates), [(r.name, r.state.type.value) for r in reviews]  # one per failing run
    assert {r.parameters["triggered_by"] for r in reviews} <= {str(r) for r in creates}
    # The review reads the failing run's database from Prefect (it found the letters there, above);
    # the trigger copies no URL into it, so it keeps its deployment's own.
    assert all(r.parameters.get("database_url") != database_url for r in reviews)

    # 3. A sync run that fails while those reviews wait: its own review starts within seconds and
    #    offers only the new letter.
    sb.script("GET", r"/api/v2.1/public/contracts/$", 401, times=1)
    failing = run_deployment(env, "sync-contracts/sync-contracts-hourly", {"database_url": database_url})
    wait_for(env, failing, {"FAILED"})
    with engine_for(database_url).connect() as conn:
        sync_letter = conn.execute(sa.select(dead_letters.c.target)
                                   .where(dead_letters.c.operation == "list_contracts")).scalar_one()
    claims = wait_for_claims(env, database_url, {"e2e-bad-0", "e2e-bad-1", sync_letter})
    third = next(r for r in review_runs(env) if r.parameters["triggered_by"] == str(failing))
    assert claims[sync_letter] == third.id and third.id not in {claims["e2e-bad-0"], claims["e2e-bad-1"]}

    # 4. A person answers in the form behind Resume of each review: fix one record, discard the others.
    with engine_for(database_url).connect() as conn:
        letters = {r.target: r for r in conn.execute(sa.select(dead_letters))}
    decisions = {
        "e2e-bad-0": {"action": "retry_with_edits", "payload": record("e2e-bad-0", "fixed@acme.example")},
        "e2e-bad-1": {"action": "discard", "note": "duplicate in the CRM"},
        sync_letter: {"action": "discard", "note": "credentials fixed"},
    }
    from prefect.flow_runs import resume_flow_run
    from prefect.settings import PREFECT_API_URL, temporary_settings

    for review_id in set(claims.values()):
        mine = [t for t, holder in claims.items() if holder == review_id]
        with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
            resume_flow_run(review_id, run_input={
                "reviewer": "ops@example.com",
                "decisions": [{"dead_letter_id": letters[t].id, **decisions[t]} for t in mine],
            })
    for review_id in set(claims.values()):
        wait_for(env, review_id, {"COMPLETED"})

    with engine_for(database_url).connect() as conn:
        after = {r.target: r for r in conn.execute(sa.select(dead_letters))}
    assert after["e2e-bad-0"].status == "replayed" and after["e2e-bad-0"].decided_by == "ops@example.com"
    assert after["e2e-bad-1"].status == "discarded" and after[sync_letter].status == "discarded"
    assert len(sb.state.by_external_id("e2e-bad-0")) == 1  # the contract exists once
    assert all(r.state.type.value == "COMPLETED" for r in review_runs(env))  # none stuck


def wait_for_claims(env: dict, database_url: str, targets: set[str], timeout: float = 120) -> dict[str, UUID]:
    """Wait until each target's letter is claimed by a paused review run; returns target -> review run id. A deadline:
    the trigger, the worker's poll, a new process and its clone, on a loaded machine."""
    deadline = time.monotonic() + timeout
    claims: dict[str, UUID] = {}
    while time.monotonic() < deadline:
        with engine_for(database_url).connect() as conn:
            claims = {r.target: UUID(r.claimed_by) for r in conn.execute(sa.select(dead_letters))
                      if r.target in targets and r.claimed_by}
        paused = {r.id for r in review_runs(env) if r.state and r.state.is_paused()}
        if set(claims) == targets and set(claims.values()) <= paused:
            return claims
        time.sleep(0.5)
    raise AssertionError(f"not every letter was offered by a paused review: {claims}")


def test_a_change_in_spotdraft_reaches_the_database_through_a_webhook(stack, tmp_path):
    """The README's path: register the receiver, start it beside the worker, change contracts in SpotDraft;
    each change lands in the database through the receiver and its sync worker (a sync_contract run each), and
    the deployed sync-contract-on-change starts no second run: its trigger is off."""
    from tools.prefect_server import free_port

    env, sb = stack["env"], stack["sandbox"]
    database_url = f"sqlite:///{tmp_path / 'webhooks.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}/spotdraft/webhooks"
    register = (
        "import json, sys; from blocks import SpotDraftCredentials; from flows import register_webhook; "
        "print(json.dumps(register_webhook(SpotDraftCredentials.load('spotdraft'), sys.argv[1])))"
    )
    done = subprocess.run([sys.executable, "-c", register, url], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    registered = json.loads(done.stdout.strip().splitlines()[-1])
    assert [w["url"] for w in sb.webhooks] == [url] and registered["key_block"] == "spotdraft-webhook-key"
    assert sb.client_secret not in done.stdout + done.stderr

    receiver_log = open(tmp_path / "receiver.log", "wb")  # noqa: SIM115 - closed below
    receiver = subprocess.Popen(
        [sys.executable, "-m", "webhooks", "--port", str(port), "--key-block", "spotdraft-webhook-key",
         "--database-url", database_url],
        cwd=ROOT, env=env, stdout=receiver_log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 90, "the receiver to answer")
        created = [c.composite_id for c in sb.add_contracts(4)]  # a CONTRACT_CREATED delivery each
        _wait_until(lambda: all(_status(database_url, c) for c in created), 120, "the new contracts' rows")
        for composite_id in created:
            sb.touch(composite_id, status="DRAFT")  # silently, as a start every step below allows
        latencies = []
        for composite_id in created[:3]:  # one change each: it reaches its row within seconds
            began = time.monotonic()
            sb.advance(composite_id, "send")
            _wait_until(lambda c=composite_id: _status(database_url, c) == "REDLINING", 90, f"{composite_id} sent")
            latencies.append(time.monotonic() - began)
        burst = created[3]  # four changes in a row: the row ends as the last one left it
        for step in ("request_signature", "sign", "execute", "update_metrics"):
            sb.advance(burst, step)
        _wait_until(lambda: _status(database_url, burst) == "EXECUTED", 120, f"{burst} to reach EXECUTED")
        print(f"\nwebhook delivery to row: {[round(s, 2) for s in latencies]} s")

        wanted = {"spotdraft.contract.sent_to_counterparty", "spotdraft.contract.executed"}
        events: list = []

        def stored_events() -> bool:  # the server writes events in batches, a few seconds apart
            events[:] = api(env, _spotdraft_events)
            return wanted <= {e.event for e in events}

        _wait_until(stored_events, 60, "the events to be stored")  # every 5 s, later on a loaded machine
        assert all(sb.client_secret not in e.model_dump_json() for e in events)
        on_change = api(env, lambda c: c.read_deployment_by_name("sync-contract/sync-contract-on-change"))
        assert not api(env, lambda c: _runs_of(c, on_change.id))  # the sync worker synced; the trigger did not
    finally:
        stop_process_group(receiver, grace=3)
        receiver_log.close()
    log = (tmp_path / "receiver.log").read_text(errors="replace")
    assert sb.client_secret not in log

    unregister = ("import sys; from blocks import SpotDraftCredentials; from flows import unregister_webhook; "
                  "unregister_webhook(SpotDraftCredentials.load('spotdraft'), int(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", unregister, str(registered["webhook_id"])], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sb.webhooks == []
    blocks = api(env, lambda c: c.read_block_documents())
    assert "spotdraft-webhook-key" not in {b.name for b in blocks}


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _status(database_url: str, composite_id: str) -> str | None:
    with engine_for(database_url).connect() as conn:
        return conn.execute(sa.select(contracts.c.contract_status)
                            .where(contracts.c.composite_id == composite_id)).scalar()


async def _runs_of(client, deployment_id) -> list:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    return await client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))


async def _spotdraft_events(client) -> list:
    from prefect.events.filters import EventFilter, EventNameFilter

    page = await client.read_events(filter=EventFilter(event=EventNameFilter(prefix=["spotdraft.contract."])),
                                    limit=50)
    return page.events


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)
