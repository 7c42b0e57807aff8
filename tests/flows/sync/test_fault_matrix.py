"""The fault matrix of the sync: every kind of fault and bad data, seeded, each checked the same way.

Per cell (see tests/support/matrix.py): the sync runs under the fault, the source changes, it runs again as a
full refresh (the deletion check runs under the fault too); then the faults clear, the review retries every
pending dead letter, and the sync runs once more. Then: the database equals the sandbox (same ids, names,
statuses; poison stored raw or dead-lettered); after each faulty run, whatever was given up on is a dead
letter; no Prefect run, sync pass or dead letter is left stuck. The table is printed after the module (and
kept in tests/.matrix-sync.txt). The create flow's matrix: tests/flows/create/test_fault_matrix.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox import Sandbox
from tests.support.matrix import (
    CONCURRENCY,
    LIST_PATH,
    PAGE_SIZE,
    SLOW,
    SYNC_CONTRACTS,
    Cell,
    CellState,
    Script,
    check_not_stuck,
    check_pending_letters,
    clear_faults,
    conclude,
    faults_seen,
    final_states_ok,
    inject,
    letters_about,
    letters_about_failure,
    new_sandbox,
    print_the_matrix,  # noqa: F401 (its module fixture)
    review_retrying_everything,
    rows_of,
    run_flow,
)
from tests.support.sandboxes import credentials_for

pytestmark = pytest.mark.usefixtures("prefect_api")

KEY_POINTERS = r"/public/contracts/[TH]-\d+/key_pointers$"
STATUS = r"/public/contracts/[TH]-\d+/status$"  # the sync asks it only to confirm a deletion


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
    conclude(cell, cs, began)


