"""The fault matrix of the create flow: every kind of fault and bad data, seeded, each checked the same way.

Per cell (see tests/support/matrix.py): the flow runs under the fault, then again (the next scheduled run);
then the faults clear, the review retries every pending dead letter, and the flow runs once more. Then: every
record has exactly one contract in SpotDraft and its row in created_contracts; after each faulty run, whatever
was given up on is a dead letter; no Prefect run or dead letter is left stuck. The table is printed after the
module (and kept in tests/.matrix-create.txt). The sync's matrix: tests/flows/sync/test_fault_matrix.py.

The sandbox runs without the duplicate rule: SpotDraft's spec promises no 409 on a taken external id.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox import Sandbox
from tests.support.matrix import (
    CONCURRENCY,
    CREATE_RECORDS,
    POST_PATH,
    SLOW,
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
    letters_about_failure,
    new_sandbox,
    print_the_matrix,  # noqa: F401 (its module fixture)
    review_retrying_everything,
    rows_of,
    run_flow,
)
from tests.support.sandboxes import credentials_for

pytestmark = pytest.mark.usefixtures("prefect_api")

BY_EXTERNAL = r"/by_external_metadata/"


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
    conclude(cell, cs, began)
