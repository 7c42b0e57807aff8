"""Reading an analytics table whole (client/analytics_reading.py): queries built from the catalog with every identifier
quoted and every literal escaped, a query over SpotDraft's length refused before sending, and paging that is shown
complete or fails loudly. The answers come from the sandbox's own query engine, in this process (no HTTP), with the
answer shapes a test needs (a lower row cap, a source that changes between pages) put on top."""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from client.analytics import AnalyticsTable
from client.analytics_catalog import TABLES
from client.analytics_reading import (
    IncompleteRead,
    SourceChanged,
    TableReader,
    count_query,
    literal,
    page_query,
)
from client.errors import InvalidRequestError
from sandbox.analytics import AnalyticsQueries
from sandbox.data import SandboxState


class EngineClient:
    """`client.call` answered by the sandbox's query engine; `shape(answer, sql)` may change each answer."""

    def __init__(self, state: SandboxState, shape=None):
        self.engine, self.state, self.shape, self.sent = AnalyticsQueries(state), state, shape, []

    def call(self, operation: str, body: dict[str, Any], logger=None, check=None) -> dict[str, Any]:
        self.sent.append(body["query"])
        answer = self.engine.run(body["query"], None, body.get("user_scoped") is not False)
        answer = self.shape(answer, body["query"]) if self.shape else answer
        if check is not None:
            check(answer)
        return answer


def read_all(reader: TableReader) -> list[dict]:
    return [row for page in reader.pages() for row in page]


@pytest.fixture(scope="module")
def state():
    return SandboxState(230, seed=6)


def test_keyset_pages_read_every_row_once_in_key_order(state):
    client = EngineClient(state)
    reader = TableReader(client, TABLES["contracts"], None, page_rows=50)
    rows = read_all(reader)
    assert [r["contract_id"] for r in rows] == sorted(state.contracts)
    assert (reader.pages_read, reader.paging) == (5, "keyset on contract_id")
    assert client.sent[0] == "SELECT COUNT(*) AS row_count, COUNT(DISTINCT `contract_id`) AS distinct_keys " \
                             "FROM `contracts`"
    assert client.sent[2].endswith(f"FROM `contracts` WHERE `contract_id` > {rows[49]['contract_id']} "
                                   "ORDER BY `contract_id` LIMIT 50")


def test_a_server_cap_below_the_page_size_is_paged_past_by_truncated(state):
    def cap_at_7(answer, sql):
        if len(answer["rows"]) > 7:
            answer = {**answer, "rows": answer["rows"][:7], "row_count": 7, "truncated": True}
        return answer

    reader = TableReader(EngineClient(state, cap_at_7), TABLES["contracts"], None, page_rows=5000)
    assert len(read_all(reader)) == 230 and reader.pages_read == 33


def test_a_table_without_a_key_is_read_ordered_by_every_column(state):
    client = EngineClient(state)
    reader = TableReader(client, TABLES["counterparties_setup"], None, page_rows=6)
    rows = read_all(reader)
    assert reader.paging == "ordered by every column" and len(rows) == len(state.counterparties)
    assert "ORDER BY `workspace_id`, `counterparty_name`, `status` LIMIT 6 OFFSET 12" in client.sent[3]


def test_keys_that_are_not_unique_are_not_used_for_keyset(state):
    def repeated_key(answer, sql):
        if "distinct_keys" in sql:
            return {**answer, "rows": [{**answer["rows"][0], "distinct_keys": 3}]}
        return answer

    reader = TableReader(EngineClient(state, repeated_key), TABLES["users"], None, page_rows=2)
    assert len(read_all(reader)) == 5 and reader.paging == "ordered by every column"


def test_a_change_between_the_counts_is_source_changed_and_nothing_is_claimed_whole():
    state = SandboxState(40, seed=6)

    def add_one_after_a_page(answer, sql):
        if "LIMIT" in sql:
            state.add_contracts(1)
        return answer

    with pytest.raises(SourceChanged, match="counted 40 rows before the read and 41 after it, and read 40"):
        read_all(TableReader(EngineClient(state, add_one_after_a_page), TABLES["contracts"], None, page_rows=50))


@pytest.mark.parametrize("shape, says", [
    (lambda a, sql: {**a, "rows": [], "row_count": 0, "truncated": True} if "LIMIT" in sql else a,
     "said more rows matched but held none"),
    (lambda a, sql: {**a, "rows": [{"contract_id": 5}] * 10, "row_count": 10} if "LIMIT" in sql else a,
     "does not advance"),
    (lambda a, sql: {**a, "rows": [{"contract_id": n} for n in (*range(1, 10), "ten")], "row_count": 10}
     if "LIMIT" in sql else a, "'ten' is not an INT64"),
])
def test_an_answer_that_cannot_be_paged_past_fails_loudly(state, shape, says):
    with pytest.raises(IncompleteRead, match=says):
        read_all(TableReader(EngineClient(state, shape), TABLES["contracts"], None, page_rows=10))


@pytest.mark.parametrize("value", ["plain", "it's", 'say "hi"', "back\\slash", "line\nbreak", "tab\tand \u00e9",
                                   "\u00e9\\u00e9"])
def test_a_string_key_literal_reads_back_as_the_same_value_in_googlesql(value):
    parsed = sqlglot.parse_one(f"SELECT x FROM t WHERE k > {literal(value, 'STRING')}", read="bigquery")
    assert [lit.this for lit in parsed.find_all(exp.Literal) if lit.is_string] == [value]


def test_identifiers_are_quoted_and_a_query_over_10000_characters_is_refused_before_sending(state):
    assert count_query(TABLES["counterparties_setup"]) == "SELECT COUNT(*) AS row_count FROM `counterparties_setup`"
    wide = AnalyticsTable("wide", tuple((f"column_with_a_long_name_{n:03d}", "STRING") for n in range(400)), "id")
    with pytest.raises(InvalidRequestError, match=r"would be .* characters, over SpotDraft's 10,000"):
        page_query(wide, 100)
    client = EngineClient(state)
    with pytest.raises(InvalidRequestError):
        read_all(TableReader(client, AnalyticsTable("wide", wide.columns), None))
    assert client.sent == []
    with pytest.raises(InvalidRequestError):
        page_query(AnalyticsTable("bad`name", (("a", "INT64"),), "a"), 1)
