"""The fault matrix: both flows against every kind of fault and bad data, seeded, checked the same way.

Per cell (see tests/matrix.py): the flow runs under the fault, the source changes, the flow runs again
(a full refresh for the sync: the deletion check runs under the fault too); then the faults clear, the
review retries every pending dead letter, and the flow runs once more. Then: the database equals the
sandbox (same ids, names, statuses; poison stored raw or dead-lettered); no external id has two
contracts; after each faulty run, whatever was given up on is a dead letter; no Prefect run, sync pass
or dead letter is left stuck. The table is printed at the end (and kept in tests/.matrix.txt).

The sandbox runs without the duplicate rule: SpotDraft's spec promises no 409 on a taken external id.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox import Sandbox
from tests.support.matrix import (
    CREATE_RECORDS,
    LIST_PATH,
    PAGE_SIZE,
    POST_PATH,
    RESULTS,
    SYNC_CONTRACTS,
    TABLE_PATH,
    Cell,
    CellState,
    Script,
    check_not_stuck,
    check_pending_letters,
    clear_faults,
    faults_seen,
    final_states_ok,
    inject,
    letters_about,
    new_sandbox,
    record_result,
    render_table,
    review_retrying_everything,
    rows_of,
    run_flow,
)
from tests.support.sandboxes import credentials_for

pytestmark = pytest.mark.usefixtures("prefect_api")

KEY_POINTERS = r"/public/contracts/[TH]-\d+/key_pointers$"
STATUS = r"/public/contracts/[TH]-\d+/status$"  # the sync asks it only to confirm a deletion
BY_EXTERNAL = r"/by_external_metadata/"
# One request at a time, so a seed puts the same fault on the same request every time (concurrent calls
# would race for the RNG's draws); the flows' concurrency has tests of its own.
CONCURRENCY = 1
SLOW = {"timeout_sleep_s": 2.5}  # past SPOTDRAFT_TIMEOUT_READ=2 (conftest)


# ---------------------------------------------------------------------------- data that is the fault


def poison_records(sb: Sandbox, cs: CellState) -> None:
    """Records whose list-answer fields fit no sane schema; stored raw or dead-lettered, never a page's fate."""
    live = sb.snapshot()
    cases = [
        (live[4], {"contract_name": {"en": "Master agreement", "de": "Rahmenvertrag"}}, ()),
        (live[11], {"contract_type_id": "abc"}, ()),
        (live[15], {"contract_name": "NUL\x00in the name", "counter_party_name": "Acme\x00"}, ()),
        (live[22], {}, ("contract_status",)),
        (live[26], {"contract_type_id": 2**70, "contract_status": None}, ()),
    ]
    for contract, fields, remove in cases:
        sb.poison(contract["id"], remove=remove, **fields)
        cs.lenient[contract["composite_id"]] = f"poison {sorted(fields) + list(remove)}"
    nameless = sb.add_contracts(1, remove=["id"])[0]  # a record without an id on its page
    cs.lenient[nameless.composite_id] = "poison: no id"
    cs.lenient[nameless.reference_id] = "poison: no id"
    cs.data_faults = len(cases) + 1


def one_forbidden_contract(sb: Sandbox, cs: CellState) -> None:
    """One contract answers 403 on its own endpoints for good (others 200); the one deleted between the
    runs answers 403 to the deletion check (access revoked: gone from the list, forbidden on its own)."""
    live = sb.snapshot()
    for contract in (live[5], live[12]):  # live[12] is the one every sync cell deletes (see changes)
        forbidden = Script("*", rf"/public/contracts/{contract['composite_id']}/", 403, times=100_000)
        sb.script(forbidden.method, forbidden.path_regex, forbidden.outcome, forbidden.times)
        cs.persistent.append(forbidden)
        cs.lenient[contract["composite_id"]] = "403 for good"


SYNC_CELLS = [
    Cell("sync", "baseline"),
    Cell("sync", "5xx-burst", {"p_5xx": 0.15},
         (Script("GET", KEY_POINTERS, 503, times=5), Script("GET", STATUS, 503, times=5)), seed=11),
    Cell("sync", "429-retry-after", {"p_429": 0.1, "retry_after_s": 1}, seed=12),
    Cell("sync", "429-no-retry-after", {"p_429_bare": 0.3},
         (Script("GET", LIST_PATH, 429, times=5, headers={"Retry-After": None}),), seed=13),
    Cell("sync", "dropped-connections", {"p_drop": 0.15}, (Script("GET", KEY_POINTERS, "drop", times=5),), seed=14),
    Cell("sync", "slower-than-read-timeout", {"p_slow": 0.03, **SLOW}, (Script("GET", LIST_PATH, "slow"),),
         seed=15),
    Cell("sync", "bad-json", {"p_bad_json": 0.15}, (Script("GET", LIST_PATH, "bad_json", times=5),), seed=16),
    Cell("sync", "html-502", {"p_html_502": 0.15}, (Script("GET", KEY_POINTERS, "html_502", times=5),), seed=17),
    Cell("sync", "contradictory-pages", {"p_contradictory_page": 0.25},
         (Script("GET", LIST_PATH, "empty_page"), Script("GET", LIST_PATH, "short_page")), seed=18),
    Cell("sync", "poison-records", seed=19, setup=poison_records),
    Cell("sync", "403-on-one-contract", seed=20, setup=one_forbidden_contract),
]  # fmt: skip


def ambiguous_then_lookup_down(sb: Sandbox, cs: CellState) -> None:
    """The first two creates land but their answers are lost (504, drop), and the look-up that would
    reconcile them is unavailable: for one only during the first run, for the other during both."""
    for external_id, outcome, lookups_down in (("mx-000", "ambiguous", 4), ("mx-001", "ambiguous_drop", 8)):
        sb.script("GET", rf"{BY_EXTERNAL}{external_id}$", 200, body=[])  # the look-up before the create: none yet
        sb.script("POST", POST_PATH, outcome)
        sb.script("GET", rf"{BY_EXTERNAL}{external_id}$", 503, times=lookups_down)


CREATE_CELLS = [
    Cell("create", "baseline"),
    Cell("create", "5xx-burst", {"p_5xx": 0.15}, (Script("POST", POST_PATH, 503, times=5),), seed=31),
    Cell("create", "429-retry-after", {"p_429": 0.1, "retry_after_s": 1}, seed=32),
    Cell("create", "429-no-retry-after", {"p_429_bare": 0.3},
         (Script("POST", POST_PATH, 429, times=5, headers={"Retry-After": None}),), seed=33),
    Cell("create", "dropped-connections", {"p_drop": 0.15}, (Script("POST", POST_PATH, "drop", times=3),), seed=34),
    Cell("create", "slower-than-read-timeout", {"p_slow": 0.05, **SLOW}, (Script("POST", POST_PATH, "slow"),),
         seed=35),
    Cell("create", "bad-json", {"p_bad_json": 0.2}, (Script("GET", BY_EXTERNAL, "bad_json", times=5),), seed=36),
    Cell("create", "html-502", {"p_html_502": 0.15}, (Script("POST", POST_PATH, "html_502", times=5),), seed=37),
    Cell("create", "ambiguous-504", {"p_ambiguous_write": 0.3, "ambiguous_mode": "504"}, seed=38),
    Cell("create", "ambiguous-drop", {"p_ambiguous_write": 0.3, "ambiguous_mode": "drop"}, seed=39),
    Cell("create", "no-duplicate-rule", seed=40, concurrency=1, setup=ambiguous_then_lookup_down),
]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def print_the_matrix(request):
    yield
    table = render_table(RESULTS)
    if not table:
        return
    TABLE_PATH.write_text(table + "\n")
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled() if capman else _nothing():
        print("\n\nFault matrix (tests/.matrix.txt):\n" + table)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _conclude(cell: Cell, cs: CellState, began: float) -> None:
    record_result(cell, cs, time.monotonic() - began)
    assert not cs.problems, f"{cell.id}: {len(cs.problems)} problem(s):\n- " + "\n- ".join(cs.problems)


# ---------------------------------------------------------------------------- sync


def _sync_given_up_is_a_letter(cs: CellState, database_url: str, state: Any, label: str) -> None:
    """A failed run left a pending letter; a contract stored without key pointers has its letter."""
    from store import contracts, dead_letters

    letters = [r for r in rows_of(database_url, dead_letters) if r["status"] == "pending"]
    if state is not None and not state.is_completed() and not letters_about_failure(letters, state):
        cs.problem(f"{label}: the run ended {state.type} ({str(state.message)[:300]}) without a dead letter "
                   "about that failure")
    for row in rows_of(database_url, contracts):
        unexplained = not letters_about(letters, row["composite_id"])
        if row["deleted_at"] is None and row["key_pointers"] is None and unexplained:
            cs.problem(f"{label}: {row['composite_id']} stored without key pointers and without a dead letter")


def letters_about_failure(letters: list[dict[str, Any]], state: Any) -> list[dict[str, Any]]:
    """Pending letters about what ended a run: naming the request that failed it, or (when it names
    none, e.g. a database error) of this run and of the same error class. A letter merely refreshed
    by the run (another contract's) does not count."""
    message = str(state.message or "")
    request = re.search(r"request id ([\w-]+)", message)
    if request:
        return letters_about(letters, f"request id {request.group(1)}", f'"{request.group(1)}"')
    error_class = re.search(r"exception: (\w+)", message)
    run_id = str(state.state_details.flow_run_id)
    return [r for r in letters if r["flow_run_id"] == run_id
            and (error_class is None or r["error_class"] == error_class.group(1))]


def _sync_truth(cs: CellState, sb: Sandbox, database_url: str) -> None:
    from store import contracts, dead_letters

    source = {c["composite_id"]: c for c in sb.snapshot()}
    rows = {r["id"]: r for r in rows_of(database_url, contracts) if r["deleted_at"] is None}
    letters = rows_of(database_url, dead_letters)
    cs.records = len(source)
    cs.duplicated = sum(len(ids) - 1 for ids in sb.duplicates().values())

    def excused(kind: str, *keys: str) -> bool:
        """Poison may be missing, a contract forbidden for good may stay live: each only with a letter naming it."""
        return any(cs.lenient.get(k, "").startswith(kind) for k in keys) and bool(letters_about(letters, *keys))

    for key, truth in source.items():
        row = rows.get(key)
        if row is None:
            if excused("poison", key, truth["reference_id"]):
                continue
            cs.lost += 1
            why = " (poison, and no dead letter names it)" if key in cs.lenient else ""
            cs.problem(f"lost: {key} is in SpotDraft but not in the database{why}")
            continue
        if cs.lenient.get(key, "").startswith("poison"):
            if not isinstance(row["record"], dict) or row["record"].get("id") != key:
                cs.wrong += 1
                cs.problem(f"wrong: poison {key} stored without its raw record: {row['record']!r:.200}")
            continue
        if (row["contract_name"], row["contract_status"]) != (truth["contract_name"], truth["contract_status"]):
            cs.wrong += 1
            cs.problem(f"wrong: {key} is {row['contract_name']!r}/{row['contract_status']!r} in the database, "
                       f"{truth['contract_name']!r}/{truth['contract_status']!r} in SpotDraft")  # fmt: skip
    for key in set(rows) - set(source):
        if excused("403", key):
            continue
        cs.wrong += 1
        cs.problem(f"wrong: {key} is live in the database but deleted in SpotDraft")


@pytest.mark.parametrize("cell", SYNC_CELLS, ids=lambda c: c.name)
def test_sync_matrix(cell: Cell, tmp_path):
    from flows import sync_contracts

    began = time.monotonic()
    cs = CellState(started=datetime.now(UTC))
    database_url = f"sqlite:///{tmp_path / 'sync.db'}"
    params = {"database_url": database_url, "page_size": PAGE_SIZE, "concurrency": cell.concurrency or CONCURRENCY}
    with new_sandbox(cell, SYNC_CONTRACTS) as sb:
        credentials = credentials_for(sb)
        if cell.setup:
            cell.setup(sb, cs)
        live = sb.snapshot()
        try:
            inject(sb, cell, reseed=cell.seed)
            state = run_flow(cs, sync_contracts, credentials, **params)
            _sync_given_up_is_a_letter(cs, database_url, state, "run 1 (first, under faults)")

            sb.touch(live[3]["id"], name="Renamed by the matrix", status="EXECUTED")  # the source moves on
            sb.touch(live[8]["id"], status="VOIDED")
            sb.add_contracts(2)
            sb.delete_contract(live[12]["id"])
            inject(sb, cell, reseed=cell.seed + 1000)
            state = run_flow(cs, sync_contracts, credentials, full_refresh=True, **params)
            _sync_given_up_is_a_letter(cs, database_url, state, "run 2 (full refresh, under faults)")

            clear_faults(sb, cell, cs)
            cs.faults_injected = faults_seen(sb)
            review_retrying_everything(cs, credentials, database_url)
            sb.touch(live[20]["id"], name="Renamed before the last run")
            sb.add_contracts(1)
            last = run_flow(cs, sync_contracts, credentials, **params)
            final_states_ok(cs, last)
        finally:
            cs.faults_injected = max(cs.faults_injected, faults_seen(sb)) + cs.data_faults
            _sync_truth(cs, sb, database_url)
            check_not_stuck(cs, database_url)
            check_pending_letters(cs, database_url)
    _conclude(cell, cs, began)


# ---------------------------------------------------------------------------- create


def create_record(external_id: str) -> dict:
    return {
        "external_id": external_id,
        "contract_name": f"Order form {external_id}",
        "contract_data": {"customer_name": f"Customer {external_id}"},
        "counter_party_details": [{
            "is_individual": False, "organization_name": f"Org {external_id}",
            "poc_details": {"first_name": "Ana", "last_name": "Costa", "email": f"{external_id}@example.com"},
        }],
    }  # fmt: skip


def _bare(contract_id: Any) -> str:
    text = str(contract_id)
    return text.split("-", 1)[1] if text[:2] in ("T-", "H-") else text


def _create_given_up_is_a_letter(cs: CellState, database_url: str, external_ids: list[str], state: Any,
                                 label: str) -> None:  # fmt: skip
    from store import created_contracts, dead_letters

    recorded = {r["external_id"] for r in rows_of(database_url, created_contracts)}
    letters = [r for r in rows_of(database_url, dead_letters) if r["status"] == "pending"]
    pending = {r["target"] for r in letters}
    if state is not None and not state.is_completed() and not letters_about_failure(letters, state):
        cs.problem(f"{label}: the run ended {state.type} ({str(state.message)[:300]}) without a dead letter "
                   "about that failure")
    for external_id in external_ids:
        if external_id not in recorded and external_id not in pending:
            cs.problem(f"{label}: record {external_id} is neither recorded as created nor a pending dead letter")


def _create_truth(cs: CellState, sb: Sandbox, database_url: str, external_ids: list[str]) -> None:
    from store import created_contracts

    counts = sb.external_id_counts()
    recorded = {r["external_id"]: r for r in rows_of(database_url, created_contracts)}
    cs.records = len(external_ids)
    for external_id in external_ids:
        in_spotdraft = sb.state.external_id_taken(external_id)
        if counts.get(external_id, 0) == 0:
            cs.lost += 1
            cs.problem(f"lost: record {external_id} has no contract in SpotDraft")
        elif len(in_spotdraft) > 1:
            cs.duplicated += len(in_spotdraft) - 1
            cs.problem(f"duplicated: record {external_id} has {len(in_spotdraft)} contracts in SpotDraft: "
                       f"{in_spotdraft}")
        row = recorded.get(external_id)
        if row is None:
            if in_spotdraft:
                cs.wrong += 1
                cs.problem(f"wrong: record {external_id} has contract(s) {in_spotdraft} but no created_contracts row")
        elif in_spotdraft and int(_bare(row["contract_id"])) not in in_spotdraft:
            cs.wrong += 1
            cs.problem(f"wrong: created_contracts says {external_id} is {row['contract_id']}, "
                       f"SpotDraft has {in_spotdraft}")  # fmt: skip


@pytest.mark.parametrize("cell", CREATE_CELLS, ids=lambda c: c.name)
def test_create_matrix(cell: Cell, tmp_path):
    from flows import create_contracts

    began = time.monotonic()
    cs = CellState(started=datetime.now(UTC))
    database_url = f"sqlite:///{tmp_path / 'create.db'}"
    external_ids = [f"mx-{i:03d}" for i in range(CREATE_RECORDS)]
    records = [create_record(e) for e in external_ids]
    with new_sandbox(cell, 5) as sb:
        credentials = credentials_for(sb)
        template = next(iter(sb.state.templates))
        params = {"records": records, "database_url": database_url, "concurrency": cell.concurrency or CONCURRENCY}
        try:
            inject(sb, cell, reseed=cell.seed)
            if cell.setup:
                cell.setup(sb, cs)
            state = run_flow(cs, create_contracts, credentials, template, **params)
            _create_given_up_is_a_letter(cs, database_url, external_ids, state, "run 1 (under faults)")
            inject(sb, cell, reseed=cell.seed + 1000)
            state = run_flow(cs, create_contracts, credentials, template, **params)  # the next scheduled run
            _create_given_up_is_a_letter(cs, database_url, external_ids, state, "run 2 (under faults)")

            clear_faults(sb, cell, cs)
            cs.faults_injected = faults_seen(sb)
            review_retrying_everything(cs, credentials, database_url)
            last = run_flow(cs, create_contracts, credentials, template, **params)
            final_states_ok(cs, last)
        finally:
            cs.faults_injected = max(cs.faults_injected, faults_seen(sb)) + cs.data_faults
            _create_truth(cs, sb, database_url, external_ids)
            check_not_stuck(cs, database_url)
            check_pending_letters(cs, database_url)
    _conclude(cell, cs, began)
