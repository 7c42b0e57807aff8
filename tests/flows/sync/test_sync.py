"""sync_contracts against the sandbox over real HTTP, into real SQLite and PostgreSQL databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flows import sync_contracts
from store import dead_letters, engine_for, sync_state
from store.sync_passes import next_page_after
from tests.support.artifacts import task_run_names
from tests.support.sync_checks import assert_database_equals_source, stored

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_first_sync_copies_every_contract_with_key_pointers(sandbox, credentials, database_url):
    state = sync_contracts(credentials, database_url=database_url, page_size=7, return_state=True)
    assert state.is_completed()
    summary = state.result()
    assert summary["contracts_read"] == 30 and summary["pages"] == 5 and summary["dead_lettered"] == 0
    assert_database_equals_source(sandbox, database_url)
    rows = stored(database_url)
    client = credentials.get_client()
    for key in list(rows)[:5]:
        assert rows[key]["key_pointers"] == client.call("get_contract_key_pointers", path_params={"composite_id": key})
    assert summary["templates"] > 0 and summary["counterparties"] > 0
    with engine_for(database_url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sa.table("templates"))).scalar() > 0


def test_incremental_reads_only_what_changed_and_upserts(sandbox, credentials, database_url):
    sync_contracts(credentials, database_url=database_url, page_size=10)
    first = sandbox.snapshot()
    sandbox.touch(first[0]["id"], name="Renamed upstream", status="EXECUTED")
    sandbox.touch(first[5]["id"], status="VOIDED")
    sandbox.add_contracts(3)
    sandbox.reset_log()

    summary = sync_contracts(credentials, database_url=database_url, page_size=10, return_state=True).result()
    assert summary["contracts_read"] == 5  # the two touched and the three new, nothing else
    assert_database_equals_source(sandbox, database_url)
    assert stored(database_url)[first[0]["composite_id"]]["contract_name"] == "Renamed upstream"
    lists = [r for r in sandbox.request_log("GET") if r.path == "/api/v2.1/public/contracts/"]
    assert all("filter__last_updated_on" in r.query for r in lists)


def test_full_refresh_marks_vanished_contracts_deleted_and_keeps_them(sandbox, credentials, database_url):
    sync_contracts(credentials, database_url=database_url)
    gone = sandbox.snapshot()[3]
    sandbox.delete_contract(gone["id"])
    summary = sync_contracts(credentials, database_url=database_url, full_refresh=True, return_state=True).result()
    assert summary["marked_deleted"] == 1
    everything = stored(database_url, live_only=False)
    assert everything[gone["composite_id"]]["deleted_at"] is not None
    assert_database_equals_source(sandbox, database_url)


def test_one_task_run_per_page_not_per_contract(sandbox, credentials, database_url):
    state = sync_contracts(credentials, database_url=database_url, page_size=10, return_state=True)
    pages = ["contracts page 1", "contracts page 2", "contracts page 3"]
    # Waited for: task runs reach the server as events, which may still be on their way when the flow returns.
    names = task_run_names(state, expected=5, including=set(pages))
    assert [n for n in names if n.startswith("contracts page")] == pages
    assert len(names) == 5  # three pages, templates, counterparties: not thirty contracts


def test_failed_enrichment_becomes_a_dead_letter_and_the_run_goes_on(sandbox, credentials, database_url):
    victim = sandbox.snapshot()[2]["composite_id"]
    sandbox.script("GET", rf"/contracts/{victim}/key_pointers$", 403, times=1, body={"detail": "no access"})
    state = sync_contracts(credentials, database_url=database_url, page_size=10, return_state=True)
    assert state.is_completed() and "1 dead-lettered" in state.message
    rows = stored(database_url)
    assert len(rows) == 30 and rows[victim]["key_pointers"] is None
    with engine_for(database_url).connect() as conn:
        letter = conn.execute(sa.select(dead_letters)).one()
    assert (letter.operation, letter.target, letter.status) == ("get_contract_key_pointers", victim, "pending")
    assert letter.error_class == "PermissionDeniedError" and "user-email" in letter.advice
    assert letter.context["status"] == 403 and letter.context["path"].endswith(f"/{victim}/key_pointers")
    assert letter.context["request_id"] and letter.context["host"] and letter.attempts == 1
    assert letter.inputs == {"composite_id": victim} and letter.flow_run_id == str(state.state_details.flow_run_id)

    # The next pass succeeds for it (a full one reads it again): the letter is resolved, not duplicated.
    sync_contracts(credentials, database_url=database_url, full_refresh=True)
    with engine_for(database_url).connect() as conn:
        letters = conn.execute(sa.select(dead_letters)).all()
    assert len(letters) == 1 and letters[0].status == "replayed"
    assert stored(database_url)[victim]["key_pointers"] is not None


def test_a_list_page_that_cannot_be_read_fails_the_run_and_keeps_the_checkpoint(sandbox, credentials, database_url):
    sync_contracts(credentials, database_url=database_url, page_size=10)  # a first, complete pass
    sandbox.add_contracts(15)
    sandbox.script("GET", r"/api/v2.1/public/contracts/$", 401, times=1)
    state = sync_contracts(credentials, database_url=database_url, page_size=10, return_state=True)
    assert state.is_failed()
    with engine_for(database_url).connect() as conn:
        letter = conn.execute(sa.select(dead_letters)).one()
        checkpoint = conn.execute(sa.select(sync_state)).one()
    assert letter.operation == "list_contracts" and letter.error_class == "AuthenticationError"
    assert letter.context["status"] == 401
    assert checkpoint.pass_id is not None and checkpoint.next_page == 1
    assert checkpoint.watermark < checkpoint.pass_started_at  # the failed pass did not move it

    resumed = sync_contracts(credentials, database_url=database_url, page_size=10, return_state=True).result()
    assert resumed["resumed"] is True
    assert resumed["pass"].startswith("resumed incremental") and " then incremental" in resumed["pass"]
    assert resumed["contracts_read"] == 30  # the 15 new ones, by the resumed pass and again by the catch-up pass
    assert_database_equals_source(sandbox, database_url)


@pytest.mark.parametrize(
    ("page", "limit", "total", "previous", "returned", "expected"),
    [
        (3, 10, 100, None, 10, 4),  # first page of a pass
        (3, 10, 100, 100, 10, 4),  # nothing changed
        (3, 10, 98, 100, 10, 2),  # 2 vanished before page 3 was read: 2 of its own slid onto page 2
        (3, 10, 90, 100, 10, 2),  # 10 vanished: still one page back
        (3, 10, 85, 100, 10, 1),  # 15 vanished: two pages back
        (1, 10, 50, 100, 10, 1),  # never before page 1
        (10, 10, 100, 100, 10, None),  # the last page
        (4, 10, 100, 100, 3, None),  # a short page ends the pass...
        (2, 5, 9, 10, 4, 1),  # ...unless it is short because something vanished before it
        (1, 10, 0, None, 0, None),  # nothing at all
    ],
)
def test_next_page_steps_back_when_contracts_vanish_mid_pass(page, limit, total, previous, returned, expected):
    assert next_page_after(page, limit, total, previous, returned) == expected


def test_a_list_answer_without_a_total_fails_the_pass_instead_of_deleting_everything(sandbox, credentials,
                                                                                      database_url):
    sync_contracts(credentials, database_url=database_url)
    sandbox.script("GET", r"/api/v2.1/public/contracts/$", 200, times=5, body={"results": []})
    state = sync_contracts(credentials, database_url=database_url, full_refresh=True, return_state=True)
    assert state.is_failed()
    with engine_for(database_url).connect() as conn:
        letter = conn.execute(sa.select(dead_letters)).one()
    assert letter.error_class == "MalformedResponseError"
    assert len(stored(database_url)) == 30  # nothing marked deleted


def test_a_live_contract_the_pass_did_not_see_is_not_marked_deleted(sandbox, credentials, database_url):
    sync_contracts(credentials, database_url=database_url)
    gone = sandbox.snapshot()[7]
    sandbox.delete_contract(gone["id"])
    page = credentials.get_client().call("list_contracts", query={"page": 1, "limit": 100})
    hidden = page["results"].pop(4)  # as if paging drift had shifted it past the pages read
    sandbox.script("GET", r"/api/v2.1/public/contracts/$", 200, times=1, body={**page, "total_results": 28})
    summary = sync_contracts(credentials, database_url=database_url, full_refresh=True, return_state=True).result()
    assert summary["marked_deleted"] == 1  # the deleted one, confirmed by a 404; not the hidden live one
    live = stored(database_url)
    assert hidden["id"] in live and gone["composite_id"] not in live


def test_a_failed_enrichment_keeps_the_key_pointers_already_stored(sandbox, credentials, database_url):
    sync_contracts(credentials, database_url=database_url)
    victim = sandbox.snapshot()[1]["composite_id"]
    before = stored(database_url)[victim]["key_pointers"]
    assert before is not None
    sandbox.script("GET", rf"/contracts/{victim}/key_pointers$", 503, times=10)
    sync_contracts(credentials, database_url=database_url, full_refresh=True)
    assert stored(database_url)[victim]["key_pointers"] == before
    with engine_for(database_url).connect() as conn:
        assert conn.execute(sa.select(dead_letters.c.target)).scalar_one() == victim


def test_changes_while_an_incremental_pass_pages_cannot_hide_a_contract(sandbox, credentials, database_url):
    """Net-zero drift: one contract of a page already read is deleted while another changes.

    Without an upper bound on the window the changed one would join the set being paged, the total
    would not move, and the contract that slid back onto the page already read would be skipped.
    """
    from datetime import timedelta

    from prefect import flow

    from flows.sync_pages import advance, sync_contracts_page
    from store import sync_passes as state

    sync_contracts(credentials, database_url=database_url, page_size=5)
    source = sandbox.snapshot()
    window = source[:12]  # changed since the watermark: the next pass's set, three pages of 5
    for i, contract in enumerate(window):
        sandbox.touch(contract["id"], name=f"renamed {i}")
    engine = engine_for(database_url)

    @flow
    def drifting_pass() -> None:
        pass_ = state.begin_or_resume(engine, full_refresh=False, overlap=timedelta(0), page_size=5)
        page, reads = 1, []
        while page is not None:
            result = sync_contracts_page(credentials, database_url, pass_, page, 5, 1)
            reads.append(page)
            if reads == [1]:  # between pages 1 and 2: net zero for a window without an upper bound
                sandbox.delete_contract(window[0]["id"])
                sandbox.touch(source[20]["id"], name="changed mid-pass")
            pass_, page = advance(engine, pass_, result)
        assert state.finish(engine, pass_) == 0

    drifting_pass()
    rows = stored(database_url)
    assert all(rows[c["composite_id"]]["contract_name"] == f"renamed {i}" for i, c in enumerate(window) if i)
    # The one that changed mid-pass is read by the next pass, even without any overlap.
    sync_contracts(credentials, database_url=database_url, page_size=5, overlap_minutes=0)
    assert stored(database_url)[source[20]["composite_id"]]["contract_name"] == "changed mid-pass"


def test_a_resumed_pass_keeps_its_page_size(sandbox, credentials, database_url):
    from datetime import timedelta

    from prefect import flow

    from flows.sync_pages import advance, sync_contracts_page
    from store import sync_passes as state

    engine = engine_for(database_url)

    @flow
    def interrupted() -> None:  # two pages of 5 committed, then the process died
        pass_ = state.begin_or_resume(engine, full_refresh=True, overlap=timedelta(0), page_size=5)
        for page in (1, 2):
            pass_, _ = advance(engine, pass_, sync_contracts_page(credentials, database_url, pass_, page, 5, 1))

    interrupted()
    summary = sync_contracts(credentials, database_url=database_url, page_size=20, return_state=True).result()
    assert summary["resumed"] and summary["pages"] >= 4  # pages 3 to 6 of 5, not page 3 of 20
    assert_database_equals_source(sandbox, database_url)


def test_a_database_made_by_an_older_version_gets_the_new_columns_and_resumes_safely(database_url):
    from datetime import datetime, timedelta

    from store import sync_passes as state

    older = sa.create_engine(database_url)
    with older.begin() as conn:  # sync_state as it was before page_size, with a pass under way at page 3
        conn.execute(sa.text(
            "CREATE TABLE sync_state (name TEXT PRIMARY KEY, watermark TIMESTAMP, pass_id TEXT, "
            "pass_started_at TIMESTAMP, pass_since TIMESTAMP, pass_full BOOLEAN NOT NULL, "
            "next_page INTEGER NOT NULL, page_total INTEGER, updated_at TIMESTAMP NOT NULL)"
        ))
        conn.execute(sa.text(
            "INSERT INTO sync_state VALUES ('contracts', NULL, 'old-pass', :t, NULL, TRUE, 3, 30, :t)"
        ), {"t": datetime(2026, 1, 1)})
    older.dispose()

    pass_ = state.begin_or_resume(engine_for(database_url), full_refresh=False, overlap=timedelta(0), page_size=7)

    assert (pass_.id, pass_.resumed, pass_.next_page, pass_.page_size) == ("old-pass", True, 1, 7)
    assert state.read(engine_for(database_url))["page_size"] is None  # kept by the next checkpoint


def test_a_stale_pass_cannot_close_or_delete(sandbox, credentials, database_url):
    from datetime import timedelta

    from store import sync_passes as state

    engine = engine_for(database_url)
    stale = state.begin_or_resume(engine, full_refresh=True, overlap=timedelta(0), page_size=10)
    with engine.begin() as conn:  # another run replaced the pass meanwhile
        conn.execute(sync_state.update().values(pass_id="someone-else"))
    assert state.finish(engine, stale, deleted_ids=["T-1000"]) == 0
    row = state.read(engine)
    assert row["pass_id"] == "someone-else" and row["watermark"] is None


# -- pages in flight together -----------------------------------------------------------------------------------
def test_the_next_pages_are_listed_while_key_pointers_of_earlier_ones_are_read(sandbox, credentials, database_url):
    from flows.common import composite_id_of

    sandbox.set_faults(p_latency=1.0, latency_ms=20)
    summary = sync_contracts(credentials, database_url=database_url, page_size=5, concurrency=2,
                             reference_data=False, return_state=True).result()
    assert summary["pages"] == 6 and summary["contracts_written"] == 30
    sandbox.set_faults(p_latency=0.0)
    page_of = {composite_id_of(r): n for n, answer in
               enumerate(credentials.get_client().iter_pages("list_contracts", limit=5), start=1)
               for r in answer["results"]}
    list_calls, last_key_pointer_of_page = {}, {}
    for record in sandbox.request_log():
        if record.path.endswith("/public/contracts/") and "page=" in record.query and record.seq not in list_calls:
            page = int(record.query.split("page=")[1].split("&")[0])
            list_calls.setdefault(page, record.seq)
        elif record.path.endswith("/key_pointers"):
            page = page_of[record.path.split("/")[-2]]
            last_key_pointer_of_page[page] = max(record.seq, last_key_pointer_of_page.get(page, 0))
    overlapping = [p for p in range(2, 6) if list_calls[p + 1] < last_key_pointer_of_page[p]]
    assert overlapping, (list_calls, last_key_pointer_of_page)  # sequential paging would list p+1 after p's last


def test_the_checkpoint_moves_only_over_pages_all_written_before_it(sandbox, credentials, database_url):
    """Page 2 fails while pages 3 and 4, in flight with it, are written: the checkpoint stays at page 2,
    and the next run resumes there, loses nothing and duplicates nothing."""
    sandbox.set_faults(p_latency=1.0, latency_ms=20)
    sandbox.script("GET", r"/public/contracts/$", 403, times=1, query_regex=r"(^|&)page=2(&|$)")
    state = sync_contracts(credentials, database_url=database_url, page_size=5, concurrency=2,
                           reference_data=False, return_state=True)
    assert state.is_failed()
    with engine_for(database_url).connect() as conn:
        position = conn.execute(sa.select(sync_state)).one()
    assert position.next_page == 2 and position.pass_id is not None
    written_ahead = len(stored(database_url))
    assert written_ahead > 5  # pages after the failed one were in flight and written, not checkpointed
    sandbox.set_faults(p_latency=0.0)
    summary = sync_contracts(credentials, database_url=database_url, page_size=5, reference_data=False,
                             return_state=True).result()
    assert summary["resumed"]
    assert_database_equals_source(sandbox, database_url)
    with engine_for(database_url).connect() as conn:
        letters = conn.execute(sa.select(dead_letters)).all()
    assert all(letter.status != "pending" for letter in letters)  # the pass's letter closed with the pass


def test_each_reference_list_fits_its_table_and_its_operations_answer():
    """REFERENCE_LISTS is the one declaration: its table takes the common columns, and every other column,
    the key and the items are fields of the operation's answer as SpotDraft's spec documents it."""
    import yaml

    from client import OPERATIONS_BY_NAME
    from flows.reference_lists import REFERENCE_LISTS
    from store import metadata
    from tests.support.paths import require_spec

    spec = yaml.safe_load(require_spec().read_text(encoding="utf-8"))

    def resolved(schema: dict) -> dict:
        while "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    assert {r.table for r in REFERENCE_LISTS} == {"templates", "counterparties"}
    for reference in REFERENCE_LISTS:
        table, operation = metadata.tables[reference.table], OPERATIONS_BY_NAME[reference.operation]
        assert {"id", "record", "synced_at"} <= set(table.columns.keys())
        answer = spec["paths"][operation.path][operation.method.lower()]["responses"]["200"]
        items = resolved(resolved(answer["content"]["application/json"]["schema"])["properties"][reference.items])
        fields = set(resolved(items["items"])["properties"])
        copied = set(table.columns.keys()) - {"id", "record", "synced_at"}
        assert {reference.key, *copied} <= fields, (reference.table, {reference.key, *copied} - fields)
