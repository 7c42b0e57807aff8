"""sync_contracts against pages that misbehave: a 403 or a redirect on one deletion check, poison records,
self-contradicting pages, a total that keeps changing, a lone surrogate, a resumed full refresh with a
record without id.

Real sandbox over loopback HTTP, real Prefect (the test harness), real SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest

from flows import sync_contracts
from store import contracts, dead_letters, sync_state
from tests.support.review import resume_with, start_review
from tests.support.rows import letters_by_target, rows

pytestmark = pytest.mark.usefixtures("prefect_api")


# -- one contract's deletion check cannot stop the sync --------------------------------------------------

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


# -- a poison record is stored fitted (raw kept), the page and the run go on ---------------------------

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


# -- a page that contradicts its own total is retried, never an early end ------------------------------

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
