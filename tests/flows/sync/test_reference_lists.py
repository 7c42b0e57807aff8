"""The reference lists a sync copies (templates, counterparties): an answer without its items is not
taken for an empty list, and rows without a name or repeated across pages are stored once each.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from store import dead_letters
from tests.support.migrations import connected


# ------------------------------------------------------------------------------ reference lists (Prefect)
def copy_reference_list(credentials, database_url: str, table: str, limit: int) -> dict:
    """sync_reference_list run as the sync runs it: a task in a flow, on a real Prefect API."""
    from prefect import flow

    from flows.reference_lists import sync_reference_list

    @flow(name="reference-lists")
    def copy() -> dict:
        state = sync_reference_list(credentials, database_url, table, limit, return_state=True)
        return {"failed": state.is_failed(), "counts": None if state.is_failed() else list(state.result())}

    return copy()


def letters(url: str) -> list[str]:
    with connected(url) as conn:
        return [row[0] for row in conn.execute(sa.select(dead_letters.c.operation))]


@pytest.mark.usefixtures("prefect_api")
def test_a_templates_answer_without_its_items_is_not_taken_for_no_templates(sandbox, credentials, tmp_path):
    url = f"sqlite:///{tmp_path / 'ref.db'}"
    sandbox.script("GET", r"/templates/$", 200, body={"results": [{"id": 1, "name": "NDA"}]}, times=10)
    outcome = copy_reference_list(credentials, url, "templates", 100)
    assert outcome["failed"] or outcome["counts"][1] >= 1 or letters(url)


@pytest.mark.usefixtures("prefect_api")
def test_reference_rows_without_a_name_or_repeated_across_pages_are_stored_once_each(sandbox, credentials, tmp_path):
    url = f"sqlite:///{tmp_path / 'ref.db'}"
    sandbox.script("GET", r"/templates/$", 200, body={"items": [{"id": 901, "contract_type_id": 3}]})
    assert copy_reference_list(credentials, url, "templates", 100) == {"failed": False, "counts": [1, 0]}

    first = credentials.get_client().call("list_counterparties", query={"page": 1, "limit": 2})["results"]
    again = [{**first[0], "name": "renamed on page 2"}, first[1]]  # the list shifted: page 2 repeats page 1
    sandbox.script("GET", r"/counter_parties/$", 200, query_regex=r"(^|&)page=2(&|$)",
                   body={"page": 2, "limit": 2, "total_results": 5, "results": again})
    outcome = copy_reference_list(credentials, url, "counterparties", 2)
    assert outcome["failed"] is False and outcome["counts"][1] == 0
    with connected(url) as conn:
        templates = conn.exec_driver_sql("SELECT id, name, contract_type_id FROM templates").all()
        parties = dict(conn.exec_driver_sql("SELECT id, name FROM counterparties").all())
    assert templates == [("901", None, 3)]
    assert len(parties) == 3 and parties[str(first[0]["id"])] == "renamed on page 2"  # the later page wins
    assert letters(url) == []
