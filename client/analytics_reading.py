"""Reading one analytics table whole through SpotDraft's query API, page by page, and proving it complete.

The queries are built from the catalog (client/analytics_catalog.py), never from user text, with every
identifier quoted. An answer holds at most 5,000 rows, so a larger table is read in pages:
- keyset on the catalog's key (`contract_id > last ORDER BY contract_id LIMIT n`), when the catalog names
  one and a count shows it unique and never NULL (COUNT(DISTINCT key) = COUNT(*));
- otherwise ordered by every column, `LIMIT n OFFSET k`: a total order up to rows equal in every column,
  which are interchangeable. A row that changes meanwhile moves in that order and shifts the rows across
  the page boundaries (one read twice, one missed, the count unchanged), so a read of more than one answer
  is read a second time and must hold the same rows (compared by a fingerprint, not kept).
A count before the first page and after the last must both equal the rows read: then every row was read
once and none changed in between (an insert or delete would show); otherwise SourceChanged, and nothing
is stored. An answer that says more rows matched but cannot be paged past (no rows, or a key that does
not advance) is IncompleteRead: the table fails loudly, never stored in part.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from client.analytics import MAX_QUERY_CHARS, MAX_ROWS, AnalyticsTable
from client.errors import ErrorContext, InvalidRequestError, MalformedResponseError, SpotDraftError

OPERATION = "run_analytics_query"
KEYSET_TYPES = ("INT64", "STRING")  # keys a literal can be written for exactly
COLLECT_AFTER_ROWS = 1000  # a page this large is freed by a full collection before the next is read


class IncompleteRead(SpotDraftError):
    advice = "The table could not be read whole; nothing was stored (its previous snapshot stands)"


class SourceChanged(IncompleteRead):
    advice = "The table changed while it was read; nothing was stored (its previous snapshot stands)"


def quoted(identifier: str) -> str:
    """A GoogleSQL quoted identifier: `name` (backticks inside doubled are not allowed, so refused)."""
    if "`" in identifier or "\\" in identifier or not identifier:
        raise InvalidRequestError(f"{identifier!r} cannot be a quoted identifier")
    return f"`{identifier}`"


def literal(value: Any, kind: str) -> str:
    """A GoogleSQL literal for a key value read from an answer (INT64 or STRING)."""
    if kind == "INT64":
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        if number is None or isinstance(value, bool) or str(number) != str(value).strip():
            raise IncompleteRead(f"key value {value!r} is not an INT64; the table cannot be paged past it")
        return str(number)
    # A JSON string literal is a valid GoogleSQL double-quoted string: the same escapes (\", \\, \n, \uXXXX).
    return json.dumps(str(value), ensure_ascii=True)


def checked_length(sql: str, table: str) -> str:
    if len(sql) > MAX_QUERY_CHARS:
        raise InvalidRequestError(f"the query for analytics table {table} would be {len(sql):,} characters, over "
                                  f"SpotDraft's {MAX_QUERY_CHARS:,}: refused before sending",
                                  ErrorContext(operation=OPERATION))
    return sql


def count_query(table: AnalyticsTable) -> str:
    distinct = f", COUNT(DISTINCT {quoted(table.key)}) AS distinct_keys" if table.key else ""
    return checked_length(f"SELECT COUNT(*) AS row_count{distinct} FROM {quoted(table.name)}", table.name)


def page_query(table: AnalyticsTable, rows: int, *, after: Any = None, offset: int | None = None) -> str:
    """One page: keyset after `after` (None: from the start), or, with `offset`, ordered by every column."""
    columns = ", ".join(quoted(c) for c in table.column_names)
    head = f"SELECT {columns} FROM {quoted(table.name)}"
    if offset is None:
        key = quoted(table.key or "")
        where = "" if after is None else f" WHERE {key} > {literal(after, table.type_of(table.key or ''))}"
        return checked_length(f"{head}{where} ORDER BY {key} LIMIT {rows}", table.name)
    return checked_length(f"{head} ORDER BY {columns} LIMIT {rows} OFFSET {offset}", table.name)


def answer_rows(answer: Any) -> list[dict[str, Any]]:
    """The rows of an answer that keeps its own promises (PublicAnalyticsQueryResponse); else malformed (retried)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("rows"), list) \
            or not isinstance(answer.get("truncated"), bool):
        raise MalformedResponseError("the analytics answer has no rows list or truncated flag")
    rows = answer["rows"]
    if not all(isinstance(row, dict) for row in rows) or answer.get("row_count") != len(rows):
        raise MalformedResponseError(f"the analytics answer's row_count {answer.get('row_count')!r} is not the "
                                     f"{len(rows)} rows it holds, or a row is not an object")
    return rows


@dataclass
class Count:
    rows: int
    distinct_keys: int | None


class TableReader:
    """Reads `table` page by page (`pages()`), then proves it whole; `paging` and `pages_read` say how."""

    def __init__(self, client, table: AnalyticsTable, user_scoped: bool | None, page_rows: int = MAX_ROWS,
                 logger=None):
        self.client, self.table, self.user_scoped, self.logger = client, table, user_scoped, logger
        self.page_rows = page_rows
        self.pages_read = 0
        self.rows_read = 0
        self.paging = ""

    def ask(self, sql: str) -> dict[str, Any]:
        body: dict[str, Any] = {"query": sql}
        if self.user_scoped is not None:
            body["user_scoped"] = self.user_scoped
        return self.client.call(OPERATION, body=body, logger=self.logger, check=answer_rows)

    def count(self) -> Count:
        rows = answer_rows(self.ask(count_query(self.table)))
        if len(rows) != 1 or not isinstance(rows[0].get("row_count"), int):
            raise MalformedResponseError(f"the count of {self.table.name} came back as {rows[:2]!r}")
        distinct = rows[0].get("distinct_keys")
        return Count(rows[0]["row_count"], distinct if isinstance(distinct, int) else None)

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Each page's rows as the API answered them; raises SourceChanged or IncompleteRead at the end
        (before the caller stores anything as the table) when the read cannot be shown whole."""
        key = self.table.key
        # Its page query is built first: a table whose query would be too long is refused before any request.
        page_query(self.table, self.page_rows, **({"after": None} if key else {"offset": 0}))
        before = self.count()
        keyset = bool(key) and self.table.type_of(key or "") in KEYSET_TYPES and before.distinct_keys == before.rows
        self.paging = f"keyset on {key}" if keyset else "ordered by every column"
        read = RowsFingerprint()
        for rows in self._answers(keyset):
            self.pages_read += 1
            self.rows_read += len(rows)
            if not keyset:
                read.add(rows)
            if rows:
                yield rows
        if not keyset and self.pages_read > 1:
            # Offsets count rows in an order of every column: a row changed between two pages moves in it, and
            # the rows across a page boundary shift (one read twice, one never) with the count unchanged. A second
            # read with the same rows shows that nothing moved while the first one ran.
            again = RowsFingerprint()
            for rows in self._answers(keyset):
                again.add(rows)
            if again != read:
                raise SourceChanged(f"{self.table.name}: changed while it was read (a second read in the same "
                                    "order holds other rows)")
        after_count = self.count()
        if not before.rows == after_count.rows == self.rows_read:
            raise SourceChanged(f"{self.table.name}: counted {before.rows:,} rows before the read and "
                                f"{after_count.rows:,} after it, and read {self.rows_read:,}")

    def _answers(self, keyset: bool) -> Iterator[list[dict[str, Any]]]:
        """The rows of each answer, from the first to the one that ends the table."""
        key = self.table.key
        after, offset = None, 0
        while True:
            sql = page_query(self.table, self.page_rows, after=after) if keyset else \
                page_query(self.table, self.page_rows, offset=offset)
            answer = self.ask(sql)
            rows, truncated = answer.pop("rows"), answer["truncated"]
            count, last = len(rows), rows[-1].get(key or "") if rows else None
            yield rows
            # Only one page is held at a time, so memory stays flat in the table's size. The retry machinery
            # keeps each call's answer and response in a reference cycle, which only a full collection frees
            # (it outlives the young ones): without this, every large page stays until Python gets to it.
            del rows, answer
            if count >= COLLECT_AFTER_ROWS:
                gc.collect()
            if not (truncated or count >= self.page_rows):
                return
            if not count:
                raise IncompleteRead(f"{self.table.name}: an answer said more rows matched but held none; the "
                                     "table cannot be paged further")
            if keyset:
                if last is None or (after is not None and not _after(last, after, self.table.type_of(key or ""))):
                    raise IncompleteRead(f"{self.table.name}: the page after {key} {after!r} ended at {last!r}, "
                                         "which does not advance; the table cannot be paged further")
                after = last
            else:
                offset += count


class RowsFingerprint:
    """The rows read, as a multiset, in a few bytes: equal for the same rows in any order (a sum of their hashes)."""

    def __init__(self) -> None:
        self.value, self.rows = 0, 0

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            text = json.dumps(row, sort_keys=True, separators=(",", ":"), default=str)
            self.value = (self.value + int.from_bytes(hashlib.sha256(text.encode()).digest())) % (1 << 256)
        self.rows += len(rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RowsFingerprint) and (self.value, self.rows) == (other.value, other.rows)


def _after(value: Any, previous: Any, kind: str) -> bool:
    if kind == "INT64":
        return int(literal(value, kind)) > int(previous)  # a key that is no INT64 is IncompleteRead
    return str(value) > str(previous)
