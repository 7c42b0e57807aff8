"""create_contracts when an answer and the truth differ: a create that landed but failed, a success without
an id, two runs at once, an answer that cannot be stored, a record left by a run that died, and business
fields whose names sound secret, replayed exactly.

Real sandbox over loopback HTTP, real Prefect (the test harness), real SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from flows import create_contracts
from flows.common import composite_id_of
from sandbox import Sandbox
from store import created_contracts, engine_for, utcnow
from tests.support.review import good_record, resume_with, start_review
from tests.support.rows import letters_by_target, rows
from tests.support.sandboxes import credentials_for

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def lax_sandbox():
    """A server without any duplicate rule, as SpotDraft's spec describes it."""
    with Sandbox(contracts=30, seed=11, duplicate_rule=False) as sb:
        yield sb


@pytest.fixture
def lax_credentials(lax_sandbox):
    return credentials_for(lax_sandbox)


# -- a create, from any path, looks up first; a later success closes the letter --------------------------

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


# -- a replay sends exactly what the first attempt sent ------------------------------------------------

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


# -- concurrent runs, unstorable answers, records left by a dead run ---------------------------------------

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


def test_a_record_left_to_a_run_that_died_holding_it_is_a_letter_not_lost(sandbox, credentials, database_url):
    from store import leases, record_leases

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
