"""Trying to break issue 9: the rate limiter in the one send path (client.ratelimit), and sync_contracts
with pages in flight (PAGES_IN_FLIGHT, one key-pointer pool per pass, the checkpoint moved by `advance`).

Real sandbox over loopback HTTP, real Prefect (the test harness), real SQLite (and PostgreSQL where the
`database_url` fixture is used). Upstream changes land at an exact point of a pass through a hook on the
sandbox's fault injector (`before_list_of_page`): the change is made before that list call is answered.

Failing on purpose, each a defect found (the rest holds and stays as coverage):
- test_an_absurd_retry_after_on_one_contract_is_that_contracts_letter_not_a_failed_run and
  test_one_absurd_retry_after_does_not_break_every_later_request_of_the_process: a Retry-After past ~9.2e9 s
  (or 'inf') puts the limiter's pause beyond what time.sleep takes: every later request of the process on
  those credentials raises OverflowError, and the sync run fails.
- test_a_retry_after_the_window_cannot_hold_does_not_hold_the_next_operations_past_their_window: the pause
  of a Retry-After longer than the retry window holds every other operation past its own window.
- test_two_429s_a_moment_apart_do_not_drop_the_adaptive_rate_to_its_floor and
  test_a_burst_of_429s_that_ask_for_no_wait_does_not_slow_a_sync_to_a_crawl: a second throttling event
  before any answer came back estimates the quota at 0 and drops the adaptive rate to 0.5 requests/s.
- test_two_first_runs_at_once_on_an_empty_database_both_complete: sync_state's first row is raced for.
- test_a_record_without_id_that_shifts_between_two_reads_of_one_pass_is_one_letter_not_two: one id-less
  record, two pending letters after a step-back re-reads its page.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from blocks import SpotDraftCredentials
from client import RateLimitSettings, SpotDraftClient
from client.errors import RateLimitedError
from client.ratelimit import RateLimiter
from flows import sync_contracts
from flows import sync_state as state_module
from flows.store import dead_letters, engine_for, sync_state
from sandbox import Sandbox
from tests.support.clocks import FakeClock
from tests.support.sync_checks import assert_database_equals_source, stored

pytestmark = pytest.mark.usefixtures("prefect_api")

LIST_PATH = r"/api/v2.1/public/contracts/$"


def page_query(page: int) -> str:
    return rf"(^|&)page={page}(&|$)"


@pytest.fixture
def own_sandbox():
    """A sandbox on credentials of its own: a limiter left paused (or broken) by a test cannot meet another
    test's client (limiters live per process, keyed by credentials and host, and ports get reused)."""
    with Sandbox(contracts=30, seed=7, client_id=f"break-{uuid.uuid4().hex[:8]}",
                 client_secret=f"s-{uuid.uuid4().hex}") as sb:
        yield sb


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'spotdraft.db'}"


def credentials_for(sb) -> SpotDraftCredentials:
    return SpotDraftCredentials(client_id=sb.client_id, client_secret=sb.client_secret, base_url=sb.base_url)


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


def letters(url: str) -> list[dict]:
    with engine_for(url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(dead_letters))]


def position(url: str) -> dict:
    with engine_for(url).connect() as conn:
        return dict(conn.execute(sa.select(sync_state)).one()._mapping)


def assert_pass_closed_and_key_pointers_accounted_for(url: str) -> None:
    """The promises every run below ends with: the pass closed, no pending letter for it, and every
    live contract's key pointers either stored or a pending dead letter."""
    assert position(url)["pass_id"] is None
    pending = [x for x in letters(url) if x["status"] == "pending"]
    assert not [x for x in pending if x["operation"] == "list_contracts"], pending
    lettered = {x["target"] for x in pending if x["operation"] == "get_contract_key_pointers"}
    missing = [key for key, row in stored(url).items() if row["key_pointers"] is None and key not in lettered]
    assert missing == []


def list_calls(sb) -> list:
    return [r for r in sb.request_log("GET") if r.path.endswith("/public/contracts/")]


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
@pytest.mark.xfail(strict=True, reason="known, left for later (issue 9's note): a record without an id is "
                   "named by its position, so one read again after a step-back at another position is a second letter")
def test_a_record_without_id_that_shifts_between_two_reads_of_one_pass_is_one_letter_not_two(
        own_sandbox, sqlite_url, monkeypatch):
    """A contract of page 1 is deleted after page 2 was listed: page 3 shows the shrink, the pass steps back
    and lists page 2 again, where the id-less record now sits one place earlier. It is one bad record: one
    pending letter, not one per place it was seen at within the same pass. (The letter's target is its
    place, 'list page P record R'.) One page in flight makes the order certain; with three, pages listed
    ahead and then listed again after a step-back give the same record more places to be seen at."""
    import flows.sync as sync_module

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
    import flows.sync as sync_module

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


@pytest.fixture
def small_sandbox():
    with Sandbox(contracts=10, seed=5, client_id=f"small-{uuid.uuid4().hex[:8]}") as sb:
        yield sb


@pytest.mark.parametrize("retry_after", ["1", "0", None, "Wed, 21 Oct 2015 07:28:00 GMT", "soon", "-3"])
def test_a_429_with_any_retry_after_is_retried_and_pauses_only_for_a_positive_one(small_sandbox, retry_after):
    sb = small_sandbox
    ids = [c["composite_id"] for c in sb.snapshot()]
    with SpotDraftClient(sb.client_id, sb.client_secret, base_url=sb.base_url) as client:
        sb.script("GET", r"/status$", 429, times=1, headers={"Retry-After": retry_after})
        started = time.monotonic()
        assert client.call("get_contract_status", path_params={"composite_id": ids[0]})
        took = time.monotonic() - started
        assert client.limiter.throttles == 1
        if retry_after == "1":
            assert 0.95 <= took < 3
        else:
            assert took < 1.5 and client.limiter.pause_left() == 0
        assert client.call("get_contract_status", path_params={"composite_id": ids[1]})


@pytest.mark.timeout(120)
def test_a_burst_of_429s_that_ask_for_no_wait_does_not_slow_a_sync_to_a_crawl(small_sandbox, sqlite_url):
    """Six 429s with 'Retry-After: 0' on the first key-pointer calls of a ten-contract sync: the run ends and
    loses nothing (that holds), but takes 14 to 18 s instead of 2 to 3: the second throttling event drops
    the adaptive rate to its floor of 0.5 requests/s (see the fake-clock test below for why). The same with
    Retry-After 1, a missing one, or an HTTP date in the past; 54 s for thirty contracts and 17 such 429s."""
    sb = small_sandbox
    sb.script("GET", r"/key_pointers$", 429, times=6, headers={"Retry-After": "0"})
    credentials = credentials_for(sb)
    started = time.monotonic()
    state = sync_contracts(credentials, database_url=sqlite_url, page_size=5, concurrency=4,
                           reference_data=False, return_state=True)
    took = time.monotonic() - started
    assert state.is_completed(), state.message
    assert sum(1 for r in sb.request_log() if r.status == 429) == 6
    assert_database_equals_source(sb, sqlite_url)
    assert_pass_closed_and_key_pointers_accounted_for(sqlite_url)
    assert credentials.get_client().limiter.pause_left() == 0  # Retry-After 0 paused nothing
    pace = credentials.get_client().limiter.describe()
    assert took < 8, f"{len(sb.request_log())} requests took {took:.1f}s ({pace})"


def test_signed_storage_urls_go_while_the_limiter_holds_every_spotdraft_request(small_sandbox):
    sb = small_sandbox
    with SpotDraftClient(sb.client_id, sb.client_secret, base_url=sb.base_url) as client:
        slot = client.call("start_workspace_file_uploads",
                           body={"files": [{"filename": "a.pdf", "content_type": "application/pdf"}]})["files"][0]
        client.limiter.throttled(client.limiter.acquire(), 30.0)  # a 429 asked everyone to wait 30 s
        started = time.monotonic()
        client.upload_to_signed_url(slot["upload_url"], b"%PDF-1.4 limiter", content_type="application/pdf")
        assert time.monotonic() - started < 2
        assert client.limiter.pause_left() > 20


def test_a_tiny_fixed_rate_paces_a_few_requests_and_does_not_hang(own_sandbox, monkeypatch):
    """SPOTDRAFT_RATE_LIMIT=0.5 through the credentials Block (so with the Prefect API's shared quota too):
    three requests leave about 2 s apart, and the whole thing ends in seconds."""
    sb = own_sandbox
    monkeypatch.setenv("SPOTDRAFT_RATE_LIMIT", "0.5")
    client = credentials_for(sb).get_client()
    assert client.limiter.fixed_rate == 0.5
    ids = [c["composite_id"] for c in sb.snapshot()[:3]]
    started = time.monotonic()
    threads = [threading.Thread(target=client.call, args=("get_contract_status",),
                                kwargs={"path_params": {"composite_id": i}}) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    took = time.monotonic() - started
    assert not any(t.is_alive() for t in threads)
    times = sorted(r.time for r in sb.request_log("GET") if r.path.endswith("/status"))
    assert len(times) == 3
    assert all(b - a >= 1.9 for a, b in itertools.pairwise(times)), times
    assert took < 12


# == The limiter against absurd and long Retry-After values =================================================

@pytest.mark.timeout(120)
def test_an_absurd_retry_after_on_one_contract_is_that_contracts_letter_not_a_failed_run(own_sandbox, sqlite_url):
    """One 429 whose Retry-After is far beyond any window (a proxy's bug, or 'Retry-After: 1e12'). The client
    cannot wait that long, so that call gives up: one dead letter. But the limiter has paused every thread
    until now + 1e11 s, and the next request's time.sleep raises OverflowError (not a SpotDraftError),
    which fails the page task and the run."""
    sb = own_sandbox
    victim = sb.snapshot()[12]["composite_id"]
    sb.script("GET", rf"/contracts/{victim}/key_pointers$", 429, times=1, headers={"Retry-After": "99999999999"})
    state = sync_contracts(credentials_for(sb), database_url=sqlite_url, page_size=5, concurrency=2,
                           reference_data=False, return_state=True)
    assert state.is_completed(), state.message


def test_one_absurd_retry_after_does_not_break_every_later_request_of_the_process(own_sandbox):
    sb = own_sandbox
    ids = [c["composite_id"] for c in sb.snapshot()]
    with SpotDraftClient(sb.client_id, sb.client_secret, base_url=sb.base_url) as client:
        sb.script("GET", r"/status$", 429, times=1, headers={"Retry-After": "1e12"})
        with pytest.raises(RateLimitedError):
            client.call("get_contract_status", path_params={"composite_id": ids[0]})
        # An hour later, a day later, in the next flow run of the same worker: still the same limiter.
        assert client.call("get_contract_status", path_params={"composite_id": ids[1]})


class OffsetClock:
    """Real time, but a sleep moves this clock forward instead of waiting (and is recorded)."""

    def __init__(self) -> None:
        self.offset, self.sleeps = 0.0, []

    def now(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds


def test_a_retry_after_the_window_cannot_hold_does_not_hold_the_next_operations_past_their_window(own_sandbox):
    """client/retry.py: 'the server's Retry-After is never cut short, and never outlives the window'. A 429
    with Retry-After 40 s and a 30 s window (SPOTDRAFT_RETRY_WINDOW in conftest): the call that got it gives
    up at once, as promised. Every other operation on these credentials must not send before the 40 s are
    over, and cannot wait that long either: it fails at once, unsent, like the first (a RateLimitedError
    carrying the Retry-After), instead of being held past the 30 s its own window allows."""
    sb = own_sandbox
    ids = [c["composite_id"] for c in sb.snapshot()]
    with SpotDraftClient(sb.client_id, sb.client_secret, base_url=sb.base_url) as client:
        clock = client.limiter._clock = OffsetClock()
        window = client.retry_settings.window
        sb.script("GET", r"/status$", 429, times=1, headers={"Retry-After": str(int(window) + 10)})
        started = time.monotonic()
        with pytest.raises(RateLimitedError):
            client.call("get_contract_status", path_params={"composite_id": ids[0]})
        assert time.monotonic() - started < 5  # the call itself did not wait: the window could not hold it
        sb.reset_log()
        with pytest.raises(RateLimitedError) as refused:
            client.call("get_contract_key_pointers", path_params={"composite_id": ids[1]})
        assert refused.value.context.retry_after > window and sb.request_log() == []  # unsent
        assert max(clock.sleeps, default=0.0) <= window, clock.sleeps


def test_two_429s_a_moment_apart_do_not_drop_the_adaptive_rate_to_its_floor():
    """A limiter sending 100/s gets a 429 (first cut: 85/s, as designed); a retry sent just after that cut
    gets a 429 too, 20 ms later, before any other answer came back. Nothing was answered since the cut
    because there was no time to answer anything, not because the quota is zero; yet the estimate is taken
    as 0 answers / 0.02 s, and the rate drops to MIN_RATE (0.5/s). Against the sandbox: 8 consecutive 429s
    with 'Retry-After: 0' then turned 40 status calls from 8 threads into 27 s (0.1 s otherwise), and a
    30-contract sync with 17 such 429s took 54 s."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(100):  # 100/s for a second, every request answered
        limiter.answered(limiter.acquire())
        clock.sleep(0.01)
    limiter.throttled(limiter.acquire(), None)  # the first 429: a cut to 85% of what was sent
    assert limiter.rate() == pytest.approx(85, rel=0.1)
    retry = limiter.acquire()
    clock.sleep(0.02)
    limiter.throttled(retry, None)  # the retry, sent after the cut, refused too
    rate = limiter.rate()
    started = clock.t
    for _ in range(40):  # the throttling is over: every request is answered again
        limiter.answered(limiter.acquire())
    took = clock.t - started
    assert rate > 10 and took < 5, f"rate {rate:.1f}/s after the second 429, then 40 requests took {took:.0f}s"


# == Nothing leaked ================================================================================================

def test_the_limiter_never_names_or_logs_the_client_secret(monkeypatch, caplog):
    canary = f"canary-limiter-{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)
    with Sandbox(contracts=6, seed=3, client_id=f"canary-{uuid.uuid4().hex[:6]}", client_secret=canary) as sb:
        ids = [c["composite_id"] for c in sb.snapshot()]
        adaptive = credentials_for(sb).get_client()
        sb.script("GET", r"/status$", 429, times=1, headers={"Retry-After": "1"})
        sb.script("GET", r"/key_pointers$", 429, times=1, headers={"Retry-After": None})
        adaptive.call("get_contract_status", path_params={"composite_id": ids[0]})
        adaptive.call("get_contract_key_pointers", path_params={"composite_id": ids[1]})
        monkeypatch.setenv("SPOTDRAFT_RATE_LIMIT", "50")
        fixed = credentials_for(sb).get_client()  # shared through a Prefect global concurrency limit
        sb.script("GET", r"/status$", 429, times=1, headers={"Retry-After": "1"})
        fixed.call("get_contract_status", path_params={"composite_id": ids[2]})
        with SpotDraftClient(sb.client_id, canary, base_url=sb.base_url,
                             rate_limit=RateLimitSettings(rate_limit=40)) as alone:
            sb.script("GET", r"/status$", 429, times=1, headers={"Retry-After": "0"})
            alone.call("get_contract_status", path_params={"composite_id": ids[3]})
            limiters = [adaptive.limiter, fixed.limiter, alone.limiter]
    assert adaptive.limiter.cuts >= 1 and fixed.limiter.throttles == 1
    ratelimit_lines = [r.getMessage() for r in caplog.records if r.name == "spotdraft.client.ratelimit"]
    assert ratelimit_lines  # the limiter did speak
    for text in [caplog.text, *ratelimit_lines, *(x.name for x in limiters), *(x.describe() for x in limiters),
                 *(repr(x) for x in limiters), *(t.name for t in threading.enumerate())]:
        assert canary not in text
    if fixed.limiter.shared_quota is not None:
        assert canary not in fixed.limiter.shared_quota.name and canary not in repr(fixed.limiter.shared_quota)
