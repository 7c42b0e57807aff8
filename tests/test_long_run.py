"""Issue 8's defects in the flows, each as the sequence of events that broke a promise on the old code.

Real sandbox over loopback HTTP, real Prefect (the test harness), real SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from prefect.flow_runs import resume_flow_run

from flows import create_contracts, review_failed_operations, sync_contracts
from flows.common import composite_id_of
from flows.store import contracts, created_contracts, dead_letters, engine_for, sync_state, utcnow
from sandbox import Sandbox
from tests.support.review import good_record, start_review, wait_until_paused

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def lax_sandbox():
    """A server without any duplicate rule, as SpotDraft's spec describes it."""
    with Sandbox(contracts=30, seed=11, duplicate_rule=False) as sb:
        yield sb


@pytest.fixture
def lax_credentials(lax_sandbox):
    from blocks import SpotDraftCredentials

    return SpotDraftCredentials(client_id=lax_sandbox.client_id, client_secret=lax_sandbox.client_secret,
                                base_url=lax_sandbox.base_url)


def rows(database_url: str, table) -> list[dict]:
    with engine_for(database_url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table))]


def letters_by_target(database_url: str) -> dict[str, dict]:
    return {r["target"]: r for r in rows(database_url, dead_letters)}


def refused_record(external_id: str) -> dict:
    """A record refused before any request (its contact has no email): a dead letter at once."""
    record = good_record(external_id)
    del record["counter_party_details"][0]["poc_details"]["email"]
    return record


def resume_with(decisions: list[dict], reviewer: str = "ops@example.com") -> None:
    resume_flow_run(wait_until_paused().id, run_input={"reviewer": reviewer, "decisions": decisions})


# -- 1. a create, from any path, looks up first; a later success closes the letter --------------------------

def _create_that_landed_but_failed(sandbox, credentials, database_url, external_id: str) -> dict:
    """A create whose POST landed, then answered 504, and whose every look-up failed: a dead letter
    while the contract exists upstream."""
    template = next(iter(sandbox.state.templates))
    sandbox.script("GET", r"/by_external_metadata/", 200, times=1, body=[])  # not there yet
    sandbox.script("GET", r"/by_external_metadata/", 503, times=20)  # then every look-up fails
    sandbox.script("POST", r"/contracts/$", "ambiguous", times=1)  # the POST lands, then 504
    state = create_contracts(credentials, template, records=[good_record(external_id)], database_url=database_url,
                             return_state=True)
    sandbox.clear_script()
    assert state.is_completed()
    assert len(sandbox.state.by_external_id(external_id)) == 1
    return letters_by_target(database_url)[external_id]


def test_a_review_retry_of_a_create_that_had_landed_creates_nothing(lax_sandbox, lax_credentials, database_url):
    letter = _create_that_landed_but_failed(lax_sandbox, lax_credentials, database_url, "lr-review")
    assert letter["status"] == "pending" and letter["operation"] == "create_contract"

    thread, out = start_review(lax_credentials, database_url)
    resume_with([{"dead_letter_id": letter["id"], "action": "retry"}])
    thread.join(timeout=120)

    assert out[0].is_completed()
    assert len(lax_sandbox.state.by_external_id("lr-review")) == 1  # the old review POSTed a second one
    after = letters_by_target(database_url)["lr-review"]
    assert after["status"] == "replayed"


def test_a_later_run_that_finds_the_contract_closes_the_create_letter(lax_sandbox, lax_credentials, database_url):
    _create_that_landed_but_failed(lax_sandbox, lax_credentials, database_url, "lr-later")
    template = next(iter(lax_sandbox.state.templates))
    create_contracts(lax_credentials, template, records=[good_record("lr-later")], database_url=database_url)
    assert letters_by_target(database_url)["lr-later"]["status"] == "replayed"
    assert len(lax_sandbox.state.by_external_id("lr-later")) == 1


def test_the_create_task_looks_up_before_posting(lax_sandbox, lax_credentials):
    import tasks

    body = {"contract_template_id": next(iter(lax_sandbox.state.templates)),
            "contract_data": {"customer_name": "Acme"},
            "counter_party_details": good_record("x")["counter_party_details"],
            "external_metadata": {"id": "lr-task", "integration_name": "t"}}
    first = tasks.create_contract(lax_credentials, body)
    second = tasks.create_contract(lax_credentials, body)  # a fresh task run: a fresh attempt budget
    assert composite_id_of(first) == composite_id_of(second)
    assert len(lax_sandbox.state.by_external_id("lr-task")) == 1


def test_a_success_without_an_id_is_looked_up_not_dead_lettered(lax_sandbox, lax_credentials):
    from client import writes

    client = lax_credentials.get_client()
    template = next(iter(lax_sandbox.state.templates))
    body = {"contract_template_id": template, "contract_data": {"customer_name": "Acme"},
            "counter_party_details": good_record("x")["counter_party_details"],
            "external_metadata": {"id": "lr-noid", "integration_name": "t"}}
    existing, _ = writes.create_or_find(client, body)
    # The first look-up misses it (not visible yet), the POST lands but answers no id.
    lax_sandbox.script("GET", r"/by_external_metadata/", 200, times=1, body=[])
    lax_sandbox.script("POST", r"/contracts/$", 201, times=1, body={})
    contract, _ = writes.create_or_find(client, body)
    assert composite_id_of(contract) == composite_id_of(existing)
    assert len(lax_sandbox.state.by_external_id("lr-noid")) == 1


# -- 2. one contract's deletion check cannot stop the sync --------------------------------------------------

def test_a_403_on_one_deletion_check_is_that_contracts_letter_and_the_pass_closes(sandbox, credentials,
                                                                                   database_url):
    sync_contracts(credentials, database_url=database_url, page_size=10, reference_data=False)
    gone, hidden = sandbox.snapshot()[0]["composite_id"], sandbox.snapshot()[1]["composite_id"]
    sandbox.delete_contract(gone)
    sandbox.delete_contract(hidden)
    sandbox.script("GET", rf"/contracts/{hidden}/status$", 403, times=50)

    state = sync_contracts(credentials, database_url=database_url, full_refresh=True, page_size=10,
                           reference_data=False, return_state=True)
    assert state.is_completed(), state.message
    deleted = {r["composite_id"] for r in rows(database_url, contracts) if r["deleted_at"] is not None}
    assert deleted == {gone}
    assert letters_by_target(database_url)[hidden]["operation"] == "get_contract_status"
    assert rows(database_url, sync_state)[0]["pass_id"] is None  # the pass closed
    # The hourly run after it completes too (it used to resume the stuck pass and fail again).
    assert sync_contracts(credentials, database_url=database_url, page_size=10, reference_data=False,
                          return_state=True).is_completed()

    # Once SpotDraft answers 404 for it, the review's retry marks it deleted.
    sandbox.clear_script()
    letter = letters_by_target(database_url)[hidden]
    thread, _ = start_review(credentials, database_url)
    resume_with([{"dead_letter_id": letter["id"], "action": "retry"}])
    thread.join(timeout=120)
    assert letters_by_target(database_url)[hidden]["status"] == "replayed"
    assert {r["composite_id"] for r in rows(database_url, contracts) if r["deleted_at"]} == {gone, hidden}


# -- 3. a poison record is stored fitted (raw kept), the page and the run go on ---------------------------

def test_poison_records_are_stored_per_record_and_the_checkpoint_moves(sandbox, credentials, database_url):
    first, second, third = (c["composite_id"] for c in sandbox.snapshot()[:3])
    sandbox.poison(first, contract_name={"en": "A dict"}, contract_type_id="abc")
    sandbox.poison(second, contract_type_id=2**70, counter_party_name="nul\x00inside")
    sandbox.poison(third, remove=["id"])

    state = sync_contracts(credentials, database_url=database_url, page_size=10, reference_data=False,
                           return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary["contracts_read"], summary["contracts_written"], summary["dead_lettered"]) == (30, 29, 1)
    stored = {r["composite_id"]: r for r in rows(database_url, contracts)}
    assert len(stored) == 29  # every contract but the one without an id
    assert json.loads(stored[first]["contract_name"]) == {"en": "A dict"}
    assert stored[first]["contract_type_id"] is None and stored[first]["record"]["contract_type_id"] == "abc"
    assert stored[second]["contract_type_id"] is None and "\x00" not in stored[second]["counter_party_name"]
    assert stored[second]["record"]["counter_party_name"] == "nul\x00inside"  # the raw record, as received
    [letter] = [r for r in rows(database_url, dead_letters) if r["operation"] == "store_contract"]
    assert "no usable id" in letter["error_message"] and letter["inputs"]["record"]
    assert rows(database_url, sync_state)[0]["pass_id"] is None


# -- 4. a page that contradicts its own total is retried, never an early end ------------------------------

@pytest.mark.parametrize("lie", ["empty_page", "short_page"])
def test_a_self_contradicting_page_is_retried_and_the_pass_reads_everything(sandbox, credentials, database_url, lie):
    sandbox.script("GET", r"/api/v2.1/public/contracts/$", lie, times=1)
    state = sync_contracts(credentials, database_url=database_url, page_size=10, reference_data=False,
                           return_state=True)
    assert state.is_completed()
    assert {r["composite_id"] for r in rows(database_url, contracts)} == {c["composite_id"]
                                                                          for c in sandbox.snapshot()}


def test_a_page_that_keeps_contradicting_fails_the_run_and_the_next_run_resumes(sandbox, credentials,
                                                                                database_url):
    sandbox.script("GET", r"/api/v2.1/public/contracts/$", "empty_page", times=50)
    state = sync_contracts(credentials, database_url=database_url, page_size=10, reference_data=False,
                           return_state=True)
    assert state.is_failed()
    assert rows(database_url, sync_state)[0]["pass_id"] is not None  # not closed over unread contracts
    sandbox.clear_script()
    assert sync_contracts(credentials, database_url=database_url, page_size=10, reference_data=False,
                          return_state=True).is_completed()
    assert len(rows(database_url, contracts)) == 30
    assert {r["status"] for r in rows(database_url, dead_letters)} == {"replayed"}  # the page's letter closed


# -- 5. a replay sends exactly what the first attempt sent ------------------------------------------------

def test_business_fields_with_secret_sounding_names_are_kept_and_replayed_exactly(sandbox, credentials,
                                                                                  database_url):
    template = next(iter(sandbox.state.templates))
    record = good_record("lr-exact")
    record["contract_data"].update({"authorization_limit": 5000, "trade_secret_clause": "none",
                                    "token_amount": 3, "password_hint": "ask legal"})
    sandbox.script("POST", r"/contracts/$", 400, times=1, body={"contract_data": ["try again"]})
    create_contracts(credentials, template, records=[record], database_url=database_url)
    letter = letters_by_target(database_url)["lr-exact"]
    assert letter["inputs"]["body"]["contract_data"] == record["contract_data"]

    sent: list[bytes] = []  # what goes on the wire, seen by an httpx hook on the client the review uses

    def watch(request):
        if request.method == "POST" and request.url.path.endswith("/contracts/"):
            sent.append(request.read())

    credentials.get_client()._http.event_hooks["request"].append(watch)
    thread, _ = start_review(credentials, database_url)
    resume_with([{"dead_letter_id": letter["id"], "action": "retry"}])
    thread.join(timeout=120)
    [post] = sent
    assert json.loads(post)["contract_data"] == record["contract_data"]
    assert letters_by_target(database_url)["lr-exact"]["status"] == "replayed"


# -- 6. one review per letter at a time; a failure while a review waits gets its own ---------------------

def test_a_second_review_offers_only_what_the_paused_one_does_not(sandbox, credentials, database_url):
    from prefect.client.orchestration import get_client

    template = next(iter(sandbox.state.templates))
    bad = refused_record("lr-first")
    create_contracts(credentials, template, records=[bad], database_url=database_url)
    thread_a, _ = start_review(credentials, database_url)
    paused_a = wait_until_paused()
    first = letters_by_target(database_url)["lr-first"]
    assert first["claimed_by"] == str(paused_a.id)

    bad2 = refused_record("lr-second")
    create_contracts(credentials, template, records=[bad2], database_url=database_url)
    second = letters_by_target(database_url)["lr-second"]
    out_b: list = []
    thread_b = threading.Thread(target=lambda: out_b.append(review_failed_operations(
        credentials, database_url=database_url, poll_seconds=1, return_state=True)), daemon=True)
    thread_b.start()

    import time
    deadline = time.monotonic() + 60
    paused_b = None
    while time.monotonic() < deadline and paused_b is None:
        with get_client(sync_client=True) as api:
            runs = api.read_flow_runs(sort="START_TIME_DESC", limit=20)
        paused_b = next((r for r in runs if r.state.is_paused() and r.id != paused_a.id), None)
        time.sleep(0.3)
    assert paused_b is not None, "the second review never paused"
    assert letters_by_target(database_url)["lr-second"]["claimed_by"] == str(paused_b.id)
    assert letters_by_target(database_url)["lr-first"]["claimed_by"] == str(paused_a.id)

    # B is told to discard A's letter: refused. A discards it; B discards its own.
    resume_flow_run(paused_b.id, run_input={"reviewer": "b", "decisions": [
        {"dead_letter_id": first["id"], "action": "discard"},
        {"dead_letter_id": second["id"], "action": "discard"},
    ]})
    thread_b.join(timeout=120)
    assert "1 refused" in out_b[0].message
    assert letters_by_target(database_url)["lr-first"]["status"] == "pending"
    resume_flow_run(paused_a.id, run_input={"reviewer": "a", "decisions": [
        {"dead_letter_id": first["id"], "action": "discard"}]})
    thread_a.join(timeout=120)
    after = letters_by_target(database_url)
    assert after["lr-first"]["status"] == "discarded" and after["lr-first"]["decided_by"] == "a"
    assert after["lr-second"]["decided_by"] == "b"


def test_a_review_that_ended_frees_its_letters_for_the_next(sandbox, credentials, database_url):
    template = next(iter(sandbox.state.templates))
    bad = refused_record("lr-free")
    create_contracts(credentials, template, records=[bad], database_url=database_url)
    review_failed_operations(credentials, database_url=database_url, timeout_minutes=0.02, poll_seconds=1)
    assert letters_by_target(database_url)["lr-free"]["claimed_by"] is None
    # A stale claim of a run that no longer runs (crashed while paused) does not hold the letter either.
    with engine_for(database_url).begin() as conn:
        conn.execute(dead_letters.update().values(claimed_by=str(uuid.uuid4()),
                                                  claimed_until=utcnow() + timedelta(days=1)))
    thread, _ = start_review(credentials, database_url)
    paused = wait_until_paused()
    assert letters_by_target(database_url)["lr-free"]["claimed_by"] == str(paused.id)
    resume_flow_run(paused.id, run_input={"reviewer": "ops", "decisions": []})
    thread.join(timeout=120)


def test_a_run_that_failed_without_a_letter_gets_one_from_its_review(sandbox, credentials, database_url, tmp_path):
    missing = str(tmp_path / "no-such-file.csv")
    failed = create_contracts(credentials, 1, records_file=missing, database_url=database_url, return_state=True)
    assert failed.is_failed()
    run_id = str(failed.state_details.flow_run_id)
    assert rows(database_url, dead_letters) == []

    thread, _ = start_review(credentials, database_url, triggered_by=run_id)
    wait_until_paused()
    [letter] = rows(database_url, dead_letters)
    assert letter["operation"] == "flow_run" and letter["flow_run_id"] == run_id
    assert "no-such-file" in letter["error_message"]
    resume_with([{"dead_letter_id": letter["id"], "action": "retry"}])
    thread.join(timeout=120)
    # Not started from a deployment: the retry says so and the letter stays pending, never lost.
    after = rows(database_url, dead_letters)[0]
    assert after["status"] == "pending" and "deployment" in after["error_message"]


# -- 10. database URLs never carry a password into Prefect -------------------------------------------------

@pytest.mark.parametrize("url", ["postgresql+psycopg://u:Canary-pw-1@127.0.0.1:1/db",
                                 "postgresql+psycopg://u@127.0.0.1:1/db?password=Canary-pw-1"])
def test_a_database_url_with_a_password_is_refused_without_repeating_it(credentials, sandbox, url):
    state = sync_contracts(credentials, database_url=url, return_state=True)
    assert state.is_failed()
    text = str(state.message) + repr(state.result(raise_on_failure=False))
    assert "PGPASSWORD" in text and "Canary-pw-1" not in text
    assert sandbox.requests == []  # nothing was sent
    # Prefect stored the run's parameters before the flow refused them: with the password masked.
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as api:
        stored = api.read_flow_run(state.state_details.flow_run_id).parameters
    assert "Canary-pw-1" not in json.dumps(stored) and stored["database_url"].startswith("postgresql+psycopg://u")


def test_the_deployment_form_and_server_refuse_a_database_url_with_a_password():
    import re

    from flows.common import DATABASE_URL_PATTERN

    for flow in (sync_contracts, create_contracts, review_failed_operations):
        schema = flow.parameters.model_dump()["properties"]["database_url"]
        assert schema["pattern"] == DATABASE_URL_PATTERN
    allowed = ["sqlite:///spotdraft.db", "postgresql+psycopg://etl@db.internal:5432/contracts?sslmode=require"]
    refused = ["postgresql+psycopg://etl:pw@db/x", "postgresql://etl@db/x?password=pw", "mysql://u@h/d?PASSWD=pw"]
    assert all(re.search(DATABASE_URL_PATTERN, u) for u in allowed)
    assert not any(re.search(DATABASE_URL_PATTERN, u) for u in refused)


# -- found by trying to break the above ---------------------------------------------------------------------

def test_two_create_runs_at_once_create_and_send_each_record_once(lax_sandbox, lax_credentials, tmp_path):
    """Two workers running the same records at the same moment (SpotDraft has no create-if-absent):
    the database they share holds one lease per record, so one of them writes it."""
    database_url = f"sqlite:///{tmp_path / 'race.db'}"
    template = next(iter(lax_sandbox.state.templates))
    records = [good_record(f"race-{i}") for i in range(60)]
    barrier, states = threading.Barrier(2), []

    def run():
        barrier.wait()
        states.append(create_contracts(lax_credentials, template, records=records, database_url=database_url,
                                       concurrency=8, send_to_counterparties=True, return_state=True))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert all(state.is_completed() for state in states)
    assert lax_sandbox.duplicates() == {}
    sends = [r.path for r in lax_sandbox.requests if r.method == "POST" and r.path.endswith("/send_to_counterparties")]
    assert len(sends) == len(set(sends)) == 60  # every contract sent, none twice
    # A record left to the other run is finished by it; the next run finds everything recorded and sent.
    again = create_contracts(lax_credentials, template, records=records, database_url=database_url,
                             send_to_counterparties=True, return_state=True).result()
    assert again["already_recorded"] == 60 and again["dead_lettered"] == 0


def test_a_create_answer_that_cannot_be_stored_is_that_records_problem(sandbox, credentials, database_url):
    template = next(iter(sandbox.state.templates))
    raw = b'{"id": 987654, "contract_name": "Acme \\ud800 MSA", "contract_status": "DRAFT"}'  # a lone surrogate
    sandbox.script("POST", r"/contracts/$", 201, times=1, body=raw, headers={"content-type": "application/json"})
    state = create_contracts(credentials, template, records=[good_record(f"p-{i}") for i in range(4)],
                             database_url=database_url, concurrency=1, return_state=True)
    assert state.is_completed()
    recorded = {r["external_id"]: r for r in rows(database_url, created_contracts)}
    assert set(recorded) == {"p-0", "p-1", "p-2", "p-3"}
    assert recorded["p-0"]["contract_name"] == "Acme \ufffd MSA"


def test_a_lone_surrogate_in_a_listed_contract_is_stored_fitted(sandbox, credentials, database_url):
    page = credentials.get_client().call("list_contracts", query={"page": 1, "limit": 10})
    target = page["results"][0]["id"]
    page["results"][0]["contract_name"] = "Acme \ud800 MSA"  # valid JSON (an escape), not UTF-8 text
    sandbox.script("GET", r"/api/v2.1/public/contracts/$", 200, times=1, body=json.dumps(page).encode(),
                   headers={"content-type": "application/json"})
    state = sync_contracts(credentials, database_url=database_url, page_size=10, reference_data=False,
                           return_state=True)
    assert state.is_completed(), state.message
    stored = {r["composite_id"]: r for r in rows(database_url, contracts)}
    assert len(stored) == 30 and stored[target]["contract_name"] == "Acme \ufffd MSA"


def test_a_resumed_full_refresh_with_a_record_without_id_completes(sandbox, credentials, database_url):
    sync_contracts(credentials, database_url=database_url, page_size=10, reference_data=False)
    sandbox.poison(sandbox.snapshot()[5]["composite_id"], remove=["id"])
    sandbox.script("GET", r"/api/v2.1/public/contracts/$", 503, times=8)  # the full refresh dies on its way
    assert sync_contracts(credentials, database_url=database_url, full_refresh=True, page_size=10,
                          reference_data=False, return_state=True).is_failed()
    sandbox.clear_script()
    state = sync_contracts(credentials, database_url=database_url, full_refresh=True, page_size=10,
                           reference_data=False, return_state=True)  # resumed: its census meets the id-less one
    assert state.is_completed(), state.message
    assert rows(database_url, sync_state)[0]["pass_id"] is None


def test_a_redirect_on_one_deletion_check_is_that_contracts_letter(sandbox, credentials, database_url):
    sync_contracts(credentials, database_url=database_url, page_size=10, reference_data=False)
    moved = sandbox.snapshot()[2]["composite_id"]
    sandbox.delete_contract(moved)
    sandbox.script("GET", rf"/contracts/{moved}/status$", 302, times=20, headers={"Location": "/elsewhere"})
    state = sync_contracts(credentials, database_url=database_url, full_refresh=True, page_size=10,
                           reference_data=False, return_state=True)
    assert state.is_completed(), state.message
    assert letters_by_target(database_url)[moved]["error_class"] == "RedirectError"
    assert rows(database_url, sync_state)[0]["pass_id"] is None


def test_a_total_that_keeps_changing_cannot_keep_a_run_paging(sandbox, credentials, database_url):
    client = credentials.get_client()
    first = client.call("list_contracts", query={"page": 1, "limit": 10})
    second = client.call("list_contracts", query={"page": 2, "limit": 10})
    first["total_results"], second["total_results"] = 30, 29  # two replicas a moment apart, each consistent
    second["results"] = second["results"][:10]
    # Page 1 always from one replica, page 2 always from the other (pages are listed several at a time,
    # so which request comes first is not which page); page 3 is the sandbox's own answer.
    sandbox.script("GET", r"/api/v2.1/public/contracts/$", 200, times=60, body=first, query_regex=r"(^|&)page=1(&|$)")
    sandbox.script("GET", r"/api/v2.1/public/contracts/$", 200, times=60, body=second, query_regex=r"(^|&)page=2(&|$)")
    state = sync_contracts(credentials, database_url=database_url, page_size=10, reference_data=False,
                           return_state=True)
    assert state.is_failed() and "kept changing" in state.message
    lists = [r for r in sandbox.requests if r.method == "GET" and r.path.endswith("/contracts/")]
    assert len(lists) <= 3 * 11 + 3  # a bounded number of step-backs, each listing its pages in flight again
    assert letters_by_target(database_url)  # the pass's letter says why


def test_business_fields_named_like_spec_secrets_are_replayed_exactly(sandbox, credentials, database_url):
    template = next(iter(sandbox.state.templates))
    record = good_record("lr-token")
    record["contract_data"].update({"token": "T-77", "password": "not-a-secret-here",
                                    "deal_url": "https://crm.example/deal?key=42&sig=abc"})
    sandbox.script("POST", r"/contracts/$", 400, times=1, body={"contract_data": ["try again"]})
    create_contracts(credentials, template, records=[record], database_url=database_url)
    letter = letters_by_target(database_url)["lr-token"]
    assert letter["inputs"]["body"]["contract_data"] == record["contract_data"]
    thread, _ = start_review(credentials, database_url)
    resume_with([{"dead_letter_id": letter["id"], "action": "retry"}])
    thread.join(timeout=120)
    assert letters_by_target(database_url)["lr-token"]["status"] == "replayed"


def test_a_live_review_keeps_its_letters_even_past_the_claims_expiry(sandbox, credentials, database_url):
    template = next(iter(sandbox.state.templates))
    bad = refused_record("lr-held")
    create_contracts(credentials, template, records=[bad], database_url=database_url)
    thread, _ = start_review(credentials, database_url)
    paused = wait_until_paused()
    with engine_for(database_url).begin() as conn:  # its claim's expiry passes while it still waits
        conn.execute(dead_letters.update().values(claimed_until=utcnow() - timedelta(minutes=1)))
    other = review_failed_operations(credentials, database_url=database_url, return_state=True)
    assert other.message == "nothing to review"
    assert letters_by_target(database_url)["lr-held"]["claimed_by"] == str(paused.id)
    resume_flow_run(paused.id, run_input={"reviewer": "ops", "decisions": []})
    thread.join(timeout=120)


@pytest.mark.parametrize("url", ["mssql+pyodbc:///?odbc_connect=DRIVER%3Dx%3BPWD%3DCanary-pw-2",
                                 "postgresql+psycopg://u@127.0.0.1:1/db?options=-c%20password%3DCanary-pw-2",
                                 "snowflake://u@acct/db?private_key_file_pwd=Canary-pw-2"])
def test_a_password_inside_a_query_value_is_refused_and_masked(credentials, url):
    from prefect.client.orchestration import get_client

    state = sync_contracts(credentials, database_url=url, return_state=True)
    assert state.is_failed() and "Canary-pw-2" not in str(state.message)
    with get_client(sync_client=True) as api:
        stored = api.read_flow_run(state.state_details.flow_run_id).parameters
    assert "Canary-pw-2" not in json.dumps(stored)


def test_a_record_left_to_a_run_that_died_holding_it_is_a_letter_not_lost(sandbox, credentials, database_url):
    from flows import leases
    from flows.store import record_leases

    template = next(iter(sandbox.state.templates))
    with engine_for(database_url).begin() as conn:  # a run killed while writing lr-dead left its lease behind
        conn.execute(record_leases.insert().values(key=leases.create_key("lr-dead"), holder="killed-run",
                                                   expires_at=utcnow() + timedelta(minutes=15)))
    state = create_contracts(credentials, template, records=[good_record("lr-dead"), good_record("lr-alive")],
                             database_url=database_url, return_state=True)
    assert state.is_completed() and "left to another run" in state.message
    letter = letters_by_target(database_url)["lr-dead"]
    assert letter["status"] == "pending" and "killed-run" in letter["error_message"]
    assert sandbox.state.by_external_id("lr-dead") == []  # not created while another writer held it
    with engine_for(database_url).begin() as conn:  # the lease lapses
        conn.execute(record_leases.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    create_contracts(credentials, template, records=[good_record("lr-dead")], database_url=database_url)
    assert letters_by_target(database_url)["lr-dead"]["status"] == "replayed"
    assert len(sandbox.state.by_external_id("lr-dead")) == 1
