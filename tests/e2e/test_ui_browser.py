"""The Prefect UI as an operator's console, driven in a real browser.

Headless Chromium (Debian's `chromium`, driven by the pinned `playwright` with `executable_path`; no
browser download) against a real `prefect server` with its UI, a process worker and the sandbox, all
started and stopped here. Every request the page makes beyond loopback is aborted (and listed on
failure): the UI calls outside hosts even with analytics off.

What an operator does, in order: registers the Block type with the README's command; creates the
credentials document in the Block form; deploys; opens the create-contracts deployment's custom run
form, finds the default credentials already picked, pastes records and runs it, twice (clean, then
every record refused by SpotDraft); runs the sync from its form; opens the paused review that the
refused records started, reads SpotDraft's reasons in the pending table and in the Resume form,
decides (one retry, one discard) and submits; then the outcome is checked in the database.

Screenshots of each form and each finished run are written to test-artifacts/ui/ (or
$SPOTDRAFT_UI_SCREENSHOTS), kept after the run, and one more named after the step that failed.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from store import contracts, created_contracts, dead_letters, engine_for
from tests.support.browser import Operator, loopback_page, skip_without_chromium
from tests.support.paths import ROOT
from tests.support.prefect_server import artifact_id, cli, deployment_runs, new_run_of, sync_api, wait_for
from tests.support.readme_blocks import readme_command
from tests.support.serving import static_files
from tools.prefect_server import local_prefect_server, stop_process_group

# What SpotDraft answers for a record its template refuses: field by field, as the UI must show it.
REFUSAL = {"contract_data": {"customer_name": ["This field is required by template 'MSA'."]}}
REFUSAL_TEXT = "contract_data.customer_name: This field is required by template 'MSA'."

skip_without_chromium()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A real Prefect server with its UI, the sandbox, and the logo served on loopback (no worker yet)."""
    home = tmp_path_factory.mktemp("prefect-ui")
    with Sandbox(contracts=24, seed=8) as sb, static_files(ROOT / "blocks") as files, \
            local_prefect_server(home) as prefect_env:
        env = {**os.environ, **prefect_env, "PREFECT_WORKER_QUERY_SECONDS": "1",
               "PREFECT_WORKER_PREFETCH_SECONDS": "5", "PREFECT_LOGGING_LEVEL": "INFO",
               "SPOTDRAFT_BLOCK_LOGO_URL": f"{files}/spotdraft-logo.svg"}
        env.pop("PYTHONPATH", None)  # the commands must work as written, without help
        processes: list[subprocess.Popen] = []
        try:
            yield {"env": env, "sandbox": sb, "home": home, "ui": prefect_env["PREFECT_UI_URL"],
                   "processes": processes}
        finally:
            for process in processes:
                stop_process_group(process, grace=3)  # an idle worker needs no graceful exit here


@pytest.fixture
def browser(stack):
    """A Chromium page for the UI; requests beyond loopback are aborted and listed."""
    with loopback_page() as (page, aborted):
        yield page, aborted


def wait_for_run(env: dict, flow_run_id, states: set[str], pause):
    """The e2e test's wait, reading with the sync client and pausing through the page."""
    return wait_for(env, flow_run_id, states, 150, read=lambda: sync_api(env, lambda c: c.read_flow_run(flow_run_id)),
                    pause=pause)


def record(external_id: str) -> dict:
    return {"external_id": external_id, "contract_data": {"customer_name": "Acme"},
            "counter_party_details": [{"is_individual": False, "organization_name": "Acme",
                                       "poc_details": {"first_name": "Avery", "email": "avery@acme.example"}}]}


@pytest.mark.timeout(900)
def test_operator_registers_runs_and_reviews_in_the_ui(stack, browser, tmp_path):
    env, sb = stack["env"], stack["sandbox"]
    page, aborted = browser
    you = Operator(page, stack["ui"])
    database_url = f"sqlite:///{tmp_path / 'operator.db'}"
    try:
        _operate(you, env, sb, stack, database_url)
    except BaseException:
        with contextlib.suppress(Exception):
            print(f"failed at step {you.step!r}: {you.shot('failed-' + you.step)}; aborted outside requests: "
                  f"{sorted(set(aborted))[:10]}")
        raise


def _operate(you: Operator, env: dict, sb, stack: dict, database_url: str) -> None:
    page = you.page

    # 1. The Block type, registered with the README's own command line, run as written from the root.
    you.step = "register"
    command = readme_command(".venv/bin/prefect block register")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

    # 2. Its catalog page: the example code and our logo; then the form, filled in and saved.
    you.step = "block-type"
    you.open("/blocks/catalog/spotdraft-credentials", "text=Example")
    assert "SpotDraftCredentials.load(" in page.locator("pre, code").first.inner_text()
    logo = page.locator("img[src$='spotdraft-logo.svg']").first
    logo.wait_for()
    assert logo.evaluate("img => img.complete && img.naturalWidth > 0"), "the Block's logo did not load"
    you.shot("01-block-type")

    you.step = "block-form"
    you.open("/blocks/catalog/spotdraft-credentials/create", "text=Client Secret")
    assert page.get_by_role("button", name="null", exact=True).count() == 0, "an optional field is a null switch"
    assert "(optional) (optional)" not in page.inner_text("body").lower(), "an optional field says so twice"
    you.type_into("Block Name", "spotdraft")
    you.type_into("Client ID", sb.client_id)
    you.type_into("Base URL override", sb.base_url)
    you.shot("02-block-form")  # before the secret is typed: screenshots are kept
    you.type_into("Client Secret", sb.client_secret)
    page.get_by_role("button", name="Create", exact=True).click()
    page.wait_for_url(re.compile(r"/blocks/block/[0-9a-f-]+$"))
    page.get_by_text("Region", exact=True).first.wait_for()  # titled, not the field's name
    assert sb.client_secret not in page.inner_text("body")
    you.shot("03-block-saved")

    # 3. A work pool, the deployments (the build step finds the document just saved) and a worker.
    you.step = "deploy"
    cli(env, "work-pool", "create", "spotdraft", "--type", "process", "--overwrite")
    cli(env, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
    log = open(stack["home"] / "worker.log", "wb")  # noqa: SIM115 - closed with the process
    stack["processes"].append(subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", "spotdraft"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    deployments = {d.name: d for d in sync_api(env, lambda c: c.read_deployments())}

    # 4. Two create runs from the custom run form: a clean one, then one SpotDraft refuses entirely.
    template = str(next(iter(sb.state.templates)))

    def create_from_form(name: str, records: list[dict]):
        you.step = f"create-form-{name}"
        known = {r.id for r in deployment_runs(env, "create-contracts/create-contracts")}
        you.open(f"/deployments/deployment/{deployments['create-contracts'].id}/run", "text=Template id")
        picked = you.field("SpotDraft credentials").locator(".p-select-button__value").first
        assert picked.inner_text().strip() == "spotdraft", "the deployment's default credentials are not shown"
        you.type_into("Template id", template)
        you.type_json("Records", records)
        you.type_into("Database URL", database_url)
        you.shot(f"04-create-form-{name}")
        you.submit_run_form()
        run = new_run_of(env, "create-contracts/create-contracts", known, you.pause)
        return wait_for_run(env, run.id, {"COMPLETED"}, you.pause)

    clean = create_from_form("clean", [record("ui-ok-1"), record("ui-ok-2")])
    assert clean.state.name == "Completed", clean.state.name
    sb.script("POST", r"/contracts/?$", 400, times=2, body=REFUSAL)
    refused = create_from_form("refused", [record("ui-bad-1"), record("ui-bad-2")])
    assert refused.state.type.value == "COMPLETED"
    assert refused.state.name == "Dead-lettered" and "2 dead-lettered" in refused.state.message, refused.state

    you.step = "runs-list"
    you.open(f"/runs/flow-run/{refused.id}", f"text={refused.state.name}")
    you.shot("05-create-refused-run")
    you.open("/runs", "text=create-contracts")
    page.get_by_text(refused.state.name).first.wait_for()
    you.shot("06-runs-list")

    # 5. The sync, from its deployment's form, into the same database.
    you.step = "sync-form"
    known = {r.id for r in deployment_runs(env, "sync-contracts/sync-contracts-hourly")}
    you.open(f"/deployments/deployment/{deployments['sync-contracts-hourly'].id}/run", "text=Full refresh")
    you.type_into("Database URL", database_url)
    you.shot("07-sync-form")
    you.submit_run_form()
    sync_run = new_run_of(env, "sync-contracts/sync-contracts-hourly", known, you.pause)
    sync = wait_for_run(env, sync_run.id, {"COMPLETED"}, you.pause)
    with engine_for(database_url).connect() as conn:
        stored = {r.id for r in conn.execute(sa.select(contracts.c.id))}
    assert stored == {c["composite_id"] for c in sb.snapshot()}
    you.step = "sync-run"
    you.open_tab(sync.id, "Artifacts", "text=sync-contracts-summary")
    you.shot("08-sync-run-artifacts")
    you.open(f"/artifacts/artifact/{artifact_id(env, 'sync-contracts-summary', sync.id)}", "table")
    rows = page.locator("table tbody tr")
    assert 0 < rows.count() <= 10 and "contracts_in_database" not in page.inner_text("table")  # one page, grouped
    you.shot("09-sync-summary")

    # 6. The review the refused records started: SpotDraft's reasons, then a decision in the form.
    you.step = "review-wait"
    deadline = time.monotonic() + 120
    while not (reviews := [r for r in deployment_runs(env, "review-failed-operations/review-failed-operations")
                           if r.parameters.get("triggered_by") == str(refused.id)]):
        assert time.monotonic() < deadline, "the refused create run started no review"
        you.pause(1)
    review = wait_for_run(env, reviews[0].id, {"PAUSED"}, you.pause)
    you.step = "review-pending"
    you.open(f"/artifacts/artifact/{artifact_id(env, 'dead-letters-pending', review.id)}", "table")
    table = page.locator("table").first
    table.locator("tbody td", has_text=re.compile(r"\S")).first.wait_for()  # rows are drawn before their text
    assert REFUSAL_TEXT in table.inner_text()
    fits = table.evaluate("t => t.getBoundingClientRect().right <= document.documentElement.clientWidth")
    assert fits, "the pending table is wider than the window"
    you.shot("10-review-pending")
    you.open(f"/runs/flow-run/{review.id}", "text=Logs")

    you.step = "review-form"
    page.get_by_role("button", name="Resume", exact=True).first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Reviewer").first.wait_for()
    abouts = [t.input_value() for t in dialog.locator("textarea").all()]
    about_rows = [a for a in abouts if REFUSAL_TEXT in a]
    assert len(about_rows) == 2, abouts
    with engine_for(database_url).connect() as conn:
        letters = {r.target: r.id for r in conn.execute(sa.select(dead_letters)
                                                        .where(dead_letters.c.status == "pending"))}
    assert set(letters) == {"ui-bad-1", "ui-bad-2"}
    you.type_into("Reviewer", "ops@acme.example")
    actions = you.fields("Action", within=dialog)
    assert actions.count() == 2
    decided = {}
    for index, about in enumerate(about_rows):
        target = "ui-bad-1" if "ui-bad-1" in about else "ui-bad-2"
        decided[target] = "retry" if target == "ui-bad-1" else "discard"
        you.choose(actions.nth(index), decided[target])
    you.shot("11-review-form", tall=True)
    dialog.get_by_role("button", name="Submit", exact=True).click()
    finished = wait_for_run(env, review.id, {"COMPLETED"}, you.pause)
    assert "1 replayed, 1 discarded" in finished.state.message, finished.state.message
    you.step = "review-done"
    you.open_tab(review.id, "Artifacts", "text=dead-letters-review")
    you.shot("12-review-finished")

    # 7. The outcome, in the database: the retried record created once, the other discarded by that person.
    you.step = "outcome"
    with engine_for(database_url).connect() as conn:
        rows = {r.target: r for r in conn.execute(sa.select(dead_letters))}
        created = {r.external_id for r in conn.execute(sa.select(created_contracts.c.external_id))}
    assert rows["ui-bad-1"].status == "replayed" and rows["ui-bad-2"].status == "discarded"
    assert rows["ui-bad-2"].decided_by == "ops@acme.example"
    assert created == {"ui-ok-1", "ui-ok-2", "ui-bad-1"}
