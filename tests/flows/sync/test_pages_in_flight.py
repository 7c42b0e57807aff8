"""sync_contracts with pages in flight: several list pages read at once, one key-pointer pool per pass,
the checkpoint moved only over pages written, and upstream changes landing at an exact point of a pass.

Real sandbox over loopback HTTP, real Prefect (the test harness), real SQLite (and PostgreSQL where the
`database_url` fixture is used). Upstream changes land at an exact point of a pass through a hook on the
sandbox's fault injector (`before_list_of_page`): the change is made before that list call is answered.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable

import pytest

from flows import sync_contracts
from store import engine_for, sync_state
from store import sync_passes as state_module
from tests.support.rows import letters, position
from tests.support.sandboxes import credentials_for
from tests.support.sync_checks import (
    assert_database_equals_source,
    assert_pass_closed_and_key_pointers_accounted_for,
    stored,
)

pytestmark = pytest.mark.usefixtures("prefect_api")

LIST_PATH = r"/api/v2.1/public/contracts/$"


def page_query(page: int) -> str:
    return rf"(^|&)page={page}(&|$)"


def before_list_of_page(sb, page: int, action: Callable[[], None]) -> threading.Event:
    """Run `action` (an upstream change) once, just before the sandbox answers the first list call of `page`."""
    injector, fired = sb.app.injector, threading.Event()
    decide, wanted = injector.decide, re.compile(page_query(page))

    def hooked(method, path, credential, query=""):
        if (not fired.is_set() and method == "GET" and path.endswith("/public/contracts/")
                and wanted.search(query)):
            fired.set()
            action()
        return decide(method, path, credential, query)

    injector.decide = hooked
    return fired


def list_calls(sb) -> list:
    return [r for r in sb.request_log("GET") if r.path.endswith("/public/contracts/")]


def test_the_clients_pool_has_a_connection_for_every_request_a_sync_can_have_in_flight(credentials):
    """At the most concurrency a sync accepts, each key-pointer call and each page's list call gets a
    connection at once: a request that took its turn at the rate limiter never queues for one (it would
    leave late, then bunch up with the next)."""
    from flows.sync import MAX_CONCURRENCY, PAGES_IN_FLIGHT

    pool = credentials.get_client()._http._transport._pool  # httpcore's ConnectionPool
    assert pool._max_connections >= MAX_CONCURRENCY + PAGES_IN_FLIGHT


# == Nothing lost, nothing duplicated, with pages in flight =====================================================

@pytest.mark.timeout(120)
def test_poison_a_403_a_lying_page_and_deletions_all_in_one_pass_with_pages_in_flight(sandbox, credentials,
                                                                                       database_url):
    """Page size 5, two key-pointer workers, every answer 20 ms late so pages overlap. Page 2 carries a record
    without id and one whose fields do not fit; a contract of page 3 answers 403 for its key pointers;
    page 4 first contradicts its own total; and two contracts of page 1 are deleted just before page 4 is
    listed (pages 2 and 3 already listed, maybe written)."""
    source = sandbox.snapshot()
    idless, unfit, refused = source[7]["composite_id"], source[8]["composite_id"], source[12]["composite_id"]
    gone = [source[1]["composite_id"], source[2]["composite_id"]]
    sandbox.poison(idless, remove=["id"])
    sandbox.poison(unfit, contract_name={"en": "a dict"}, contract_type_id=2**70)
    sandbox.script("GET", rf"/contracts/{refused}/key_pointers$", 403, times=50)
    sandbox.script("GET", LIST_PATH, "short_page", times=1, query_regex=page_query(4))
    sandbox.set_faults(p_latency=1.0, latency_ms=20)
    fired = before_list_of_page(sandbox, 4, lambda: [sandbox.delete_contract(g) for g in gone])

    state = sync_contracts(credentials, database_url=database_url, page_size=5, concurrency=2,
                           reference_data=False, return_state=True)

    assert state.is_completed(), state.message
    assert fired.is_set()
    live = stored(database_url)
    # Nothing lost, nothing extra but the two deleted after page 1 was read (a full pass marks only what it
    # did not see: those two wait for the next full refresh, below).
    assert set(live) - set(gone) == {c["composite_id"] for c in sandbox.snapshot()} - {idless}
    assert live[unfit]["record"]["contract_name"] == {"en": "a dict"}
    for contract in sandbox.snapshot():
        key = contract["composite_id"]
        if key not in (idless, unfit):
            assert (live[key]["contract_name"], live[key]["contract_status"]) == (contract["contract_name"],
                                                                                   contract["contract_status"])
    assert_pass_closed_and_key_pointers_accounted_for(database_url)
    pending = [x for x in letters(database_url) if x["status"] == "pending"]
    assert sorted((x["operation"], x["target"]) for x in pending if x["operation"] != "store_contract") == [
        ("get_contract_key_pointers", refused)]
    bad = [x for x in pending if x["operation"] == "store_contract"]  # the id-less record's (see the next test)
    assert bad and all(x["inputs"]["record"]["contract_name"] == source[7]["contract_name"] for x in bad)

    sandbox.set_faults(p_latency=0.0)
    summary = sync_contracts(credentials, database_url=database_url, page_size=5, full_refresh=True,
                             reference_data=False, return_state=True).result()
    assert summary["marked_deleted"] == 2
    assert set(stored(database_url)) == {c["composite_id"] for c in sandbox.snapshot()} - {idless}
    assert_pass_closed_and_key_pointers_accounted_for(database_url)


@pytest.mark.timeout(120)
@pytest.mark.xfail(strict=True, reason="known, left for later: a record without an id is "
                   "named by its position, so one read again after a step-back at another position is a second letter")
def test_a_record_without_id_that_shifts_between_two_reads_of_one_pass_is_one_letter_not_two(
        own_sandbox, sqlite_url, monkeypatch):
    """A contract of page 1 is deleted after page 2 was listed: page 3 shows the shrink, the pass steps back
    and lists page 2 again, where the id-less record now sits one place earlier. It is one bad record: one
    pending letter, not one per place it was seen at within the same pass. (The letter's target is its
    place, 'list page P record R'.) One page in flight makes the order certain; with three, pages listed
    ahead and then listed again after a step-back give the same record more places to be seen at."""
    import flows.sync_pages as sync_module

    monkeypatch.setattr(sync_module, "PAGES_IN_FLIGHT", 1)
    sb = own_sandbox
    source = sb.snapshot()
    idless = source[7]["composite_id"]  # page 2, record 3 (page size 5)
    sb.poison(idless, remove=["id"])
    fired = before_list_of_page(sb, 3, lambda: sb.delete_contract(source[0]["composite_id"]))
    state = sync_contracts(credentials_for(sb), database_url=sqlite_url, page_size=5, concurrency=1,
                           reference_data=False, return_state=True)
    assert state.is_completed(), state.message
    assert fired.is_set()
    assert set(stored(sqlite_url)) - {source[0]["composite_id"]} == {c["composite_id"] for c in sb.snapshot()} - {
        idless}
    pending = [x for x in letters(sqlite_url) if x["status"] == "pending" and x["operation"] == "store_contract"]
    assert [x["target"] for x in pending] == ["list page 2 record 3"], [x["target"] for x in pending]


@pytest.mark.timeout(120)
def test_updates_deletions_and_creations_between_page_reads_of_an_incremental_pass(sandbox, credentials,
                                                                                  sqlite_url):
    sync_contracts(credentials, database_url=sqlite_url, page_size=5, reference_data=False)
    source = sandbox.snapshot()
    for i, contract in enumerate(source[:17]):  # the next pass's window: four pages of 5
        sandbox.touch(contract["id"], name=f"v2 {i}")
    moved, gone = source[0]["composite_id"], source[1]["composite_id"]

    def upstream_changes() -> None:  # on page 1, already listed: both leave the pass's window
        sandbox.touch(moved, name="v3 mid-pass")
        sandbox.delete_contract(gone)
        sandbox.add_contracts(2)

    sandbox.set_faults(p_latency=1.0, latency_ms=15)
    fired = before_list_of_page(sandbox, 3, upstream_changes)
    state = sync_contracts(credentials, database_url=sqlite_url, page_size=5, concurrency=2,
                           reference_data=False, return_state=True)
    assert state.is_completed(), state.message
    assert fired.is_set()
    rows = stored(sqlite_url)
    lost = [c["composite_id"] for i, c in enumerate(source[:17])
            if i > 1 and rows[c["composite_id"]]["contract_name"] != f"v2 {i}"]
    assert lost == []  # every contract changed before the pass and still in its window was read
    assert_pass_closed_and_key_pointers_accounted_for(sqlite_url)

    sandbox.set_faults(p_latency=0.0)
    sync_contracts(credentials, database_url=sqlite_url, page_size=5, reference_data=False)
    assert stored(sqlite_url)[moved]["contract_name"] == "v3 mid-pass"  # read by the next pass
    sync_contracts(credentials, database_url=sqlite_url, page_size=5, full_refresh=True, reference_data=False)
    assert_database_equals_source(sandbox, sqlite_url)
    assert_pass_closed_and_key_pointers_accounted_for(sqlite_url)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("at_page", [2, 3])
def test_a_full_refresh_whose_pages_in_flight_come_back_empty_past_the_new_end(own_sandbox, sqlite_url, at_page):
    sb = own_sandbox
    credentials = credentials_for(sb)
    sync_contracts(credentials, database_url=sqlite_url, page_size=10, reference_data=False)
    gone = [c["composite_id"] for c in sb.snapshot()[:12]]  # 30 -> 18: page 3 of 10 is past the end
    sb.set_faults(p_latency=1.0, latency_ms=15)
    fired = before_list_of_page(sb, at_page, lambda: [sb.delete_contract(g) for g in gone])
    state = sync_contracts(credentials, database_url=sqlite_url, page_size=10, full_refresh=True,
                           reference_data=False, return_state=True)
    assert state.is_completed(), state.message
    assert fired.is_set()
    # Those not read before they went are marked now; those read first, by the next full refresh.
    assert set(stored(sqlite_url)) - set(gone) == {c["composite_id"] for c in sb.snapshot()}
    deleted = {k for k, row in stored(sqlite_url, live_only=False).items() if row["deleted_at"] is not None}
    assert deleted <= set(gone) and len(deleted) == state.result()["marked_deleted"]
    assert_pass_closed_and_key_pointers_accounted_for(sqlite_url)
    assert any(re.search(page_query(3), r.query) for r in list_calls(sb))  # page 3: listed after the shrink
    sb.set_faults(p_latency=0.0)
    sync_contracts(credentials, database_url=sqlite_url, page_size=10, full_refresh=True, reference_data=False)
    assert_database_equals_source(sb, sqlite_url)
    assert_pass_closed_and_key_pointers_accounted_for(sqlite_url)


@pytest.mark.timeout(120)
def test_page_size_one_concurrency_one_with_deletions_while_pages_are_in_flight(own_sandbox, sqlite_url):
    sb = own_sandbox
    source = sb.snapshot()
    gone = source[2]["composite_id"]  # page 3, read before it goes: left to the next full refresh
    before_list_of_page(sb, 8, lambda: sb.delete_contract(gone))
    state = sync_contracts(credentials_for(sb), database_url=sqlite_url, page_size=1, concurrency=1,
                           reference_data=False, return_state=True)
    assert state.is_completed(), state.message
    assert set(stored(sqlite_url)) - {gone} == {c["composite_id"] for c in sb.snapshot()}
    assert_pass_closed_and_key_pointers_accounted_for(sqlite_url)
    assert all("limit=1" in r.query for r in list_calls(sb))
    pages = [int(re.search(r"page=(\d+)", r.query).group(1)) for r in list_calls(sb)]
    assert pages.count(8) == 2 or pages.count(7) == 2  # the shrink seen on page 8 (or 9) stepped back once
    sync_contracts(credentials_for(sb), database_url=sqlite_url, page_size=100, concurrency=1, full_refresh=True,
                   reference_data=False)
    assert_database_equals_source(sb, sqlite_url)
    assert_pass_closed_and_key_pointers_accounted_for(sqlite_url)


# == The checkpoint: killed mid-pass with pages in flight, resumed ============================================

@pytest.mark.timeout(120)
def test_killed_on_page_3_with_pages_in_flight_then_resumed_with_another_page_size(sandbox, credentials,
                                                                                   sqlite_url):
    sandbox.set_faults(p_latency=1.0, latency_ms=20)
    sandbox.script("GET", LIST_PATH, 403, times=1, query_regex=page_query(3))
    failed = sync_contracts(credentials, database_url=sqlite_url, page_size=5, concurrency=2,
                            reference_data=False, return_state=True)
    assert failed.is_failed()
    assert (position(sqlite_url)["next_page"], position(sqlite_url)["page_size"]) == (3, 5)
    # While no run is going: one contract of a page already checkpointed is deleted, one is renamed.
    source = sandbox.snapshot()
    sandbox.delete_contract(source[1]["composite_id"])
    sandbox.touch(source[4]["id"], name="renamed while dead")
    sandbox.set_faults(p_latency=0.0)
    sandbox.reset_log()

    summary = sync_contracts(credentials, database_url=sqlite_url, page_size=7, concurrency=2,
                             reference_data=False, return_state=True).result()
    assert summary["resumed"] and " then incremental" in summary["pass"]
    limits = [int(re.search(r"limit=(\d+)", r.query).group(1)) for r in list_calls(sandbox)]
    first_of_catch_up = limits.index(7)
    assert set(limits[:first_of_catch_up]) == {5}  # the resumed pass (and its census) kept its page size
    assert_database_equals_source(sandbox, sqlite_url)
    assert_pass_closed_and_key_pointers_accounted_for(sqlite_url)


# == Nothing stuck ==================================================================================================

@pytest.mark.timeout(120)
def test_a_page_task_raising_while_later_pages_are_in_flight_ends_the_run(own_sandbox, sqlite_url, monkeypatch):
    """Not a SpotDraftError: a page task that raises something else (a bug, a driver error) while two later
    pages are still reading their key pointers on the shared pool. The run must end, not hang."""
    import flows.sync_pages as sync_module

    sb = own_sandbox
    real = sync_module._contract_row

    def broken(record, *rest):
        if record["id"] == sb.snapshot()[5]["composite_id"]:
            raise RuntimeError("a bug in one page")
        return real(record, *rest)

    monkeypatch.setattr(sync_module, "_contract_row", broken)
    sb.set_faults(p_latency=1.0, latency_ms=20)
    started = time.monotonic()
    state = sync_contracts(credentials_for(sb), database_url=sqlite_url, page_size=5, concurrency=1,
                           reference_data=False, return_state=True)
    assert state.is_failed() and "a bug in one page" in state.message
    assert time.monotonic() - started < 60
    assert position(sqlite_url)["next_page"] == 2 and position(sqlite_url)["pass_id"] is not None
    monkeypatch.setattr(sync_module, "_contract_row", real)
    sb.set_faults(p_latency=0.0)
    assert sync_contracts(credentials_for(sb), database_url=sqlite_url, page_size=5, reference_data=False,
                          return_state=True).is_completed()
    assert_database_equals_source(sb, sqlite_url)
    assert_pass_closed_and_key_pointers_accounted_for(sqlite_url)


@pytest.mark.timeout(120)
def test_two_runs_at_once_after_a_pass_both_end_and_copy_everything(sandbox, credentials, database_url):
    sync_contracts(credentials, database_url=database_url, page_size=5, reference_data=False)
    for contract in sandbox.snapshot()[:12]:
        sandbox.touch(contract["id"], name="changed before both runs")
    sandbox.set_faults(p_latency=1.0, latency_ms=10)
    states = {}

    def run(name: str, full: bool) -> None:
        states[name] = sync_contracts(credentials, database_url=database_url, page_size=5, concurrency=3,
                                      full_refresh=full, reference_data=False, return_state=True)

    threads = [threading.Thread(target=run, args=("incremental", False)),
               threading.Thread(target=run, args=("full", True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(100)
    assert not any(t.is_alive() for t in threads)
    assert all(s.is_completed() for s in states.values()), {n: s.message for n, s in states.items()}
    assert_database_equals_source(sandbox, database_url)
    assert_pass_closed_and_key_pointers_accounted_for(database_url)


@pytest.mark.timeout(120)
def test_two_first_runs_at_once_on_an_empty_database_both_complete(sandbox, credentials, sqlite_url, monkeypatch):
    """Two runs started together on a database no pass has used yet (first deployment, a schedule and a manual
    run). Each reads sync_state, finds no row, and inserts one: the second insert violates the primary key,
    and that run fails with an IntegrityError instead of resuming (or waiting for) the other's pass.
    The race is made certain by holding each run's INSERT until both have read."""
    engine_for(sqlite_url)  # the tables exist: only sync_state's row is raced for
    both_read = threading.Barrier(2, timeout=10)
    real_insert = sync_state.insert

    def insert_after_both_read(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):  # alone: no race to make
            both_read.wait()
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(state_module.sync_state, "insert", insert_after_both_read)
    states = {}

    def run(name: str) -> None:
        states[name] = sync_contracts(credentials, database_url=sqlite_url, page_size=10, reference_data=False,
                                      return_state=True)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(100)
    assert not any(t.is_alive() for t in threads)
    assert_database_equals_source(sandbox, sqlite_url)  # the other run copied everything
    assert all(s.is_completed() for s in states.values()), {n: s.message[:160] for n, s in states.items()}
