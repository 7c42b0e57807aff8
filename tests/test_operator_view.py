"""What an operator sees in the Prefect UI (issue 10), read back from the Prefect API the UI reads.

Final states whose badge says what happened.
"""

from __future__ import annotations

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType

from flows import create_contracts, sync_contracts
from tests.test_create import record

pytestmark = pytest.mark.usefixtures("prefect_api")

@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'spotdraft.db'}"


def template_id(sandbox) -> int:
    return next(iter(sandbox.state.templates))


def server_state(state):
    """The final state of the run as the Prefect server keeps it (what the UI's badge shows)."""
    with get_client(sync_client=True) as api:
        return api.read_flow_run(state.state_details.flow_run_id).state


# -- the final state's badge ----------------------------------------------------------------------------------
def test_a_create_run_whose_every_record_spotdraft_refuses_is_completed_and_named_for_its_dead_letters(
    sandbox, credentials, db
):
    records = [record(f"nope-{i}") for i in range(3)]
    state = create_contracts(credentials, 99999, records=records, database_url=db, return_state=True)  # 400s

    shown = server_state(state)
    assert shown.type == StateType.COMPLETED and shown.name == "3 dead-lettered"
    assert "review_failed_operations" in shown.message and "3 dead-lettered" in shown.message
    assert state.name == "3 dead-lettered" and state.result()["dead_lettered"] == 3  # the summary, as before


def test_a_create_run_with_some_records_refused_names_only_those(sandbox, credentials, db):
    no_id = {"contract_data": {}}
    state = create_contracts(credentials, template_id(sandbox), records=[record("ok-1"), no_id, record("ok-2")],
                             database_url=db, return_state=True)
    shown = server_state(state)
    assert (shown.type, shown.name) == (StateType.COMPLETED, "1 dead-lettered")
    assert state.result()["created"] == 2


def test_a_clean_create_run_is_plain_completed(sandbox, credentials, db):
    state = create_contracts(credentials, template_id(sandbox), records=[record("fine-1")], database_url=db,
                             return_state=True)
    shown = server_state(state)
    assert (shown.type, shown.name) == (StateType.COMPLETED, "Completed")
    assert shown.message.startswith("created 1") and "dead-lettered" not in shown.message


def test_a_sync_run_that_dead_letters_is_named_for_it_and_a_clean_one_is_plain_completed(sandbox, credentials, db):
    victim = sandbox.snapshot()[2]["composite_id"]
    sandbox.script("GET", rf"/contracts/{victim}/key_pointers$", 403, times=1, body={"detail": "no access"})
    lettered = sync_contracts(credentials, database_url=db, page_size=10, return_state=True)
    shown = server_state(lettered)
    assert (shown.type, shown.name) == (StateType.COMPLETED, "1 dead-lettered")
    assert "review_failed_operations" in shown.message

    clean = sync_contracts(credentials, database_url=db, page_size=10, return_state=True)
    shown = server_state(clean)
    assert (shown.type, shown.name) == (StateType.COMPLETED, "Completed")
