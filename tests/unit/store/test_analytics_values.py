"""An analytics answer's JSON values typed for their columns (store/analytics_values.py): what the API may send for each
GoogleSQL type, what fits, and what is stored fitted (and said so) instead of failing the page."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from client.analytics import AnalyticsTable
from store.analytics_values import typed_rows

ONE = AnalyticsTable("t", (("n", "INT64"), ("f", "FLOAT64"), ("s", "STRING"), ("d", "DATE"), ("ts", "TIMESTAMP"),
                           ("b", "BOOL")))


@pytest.mark.parametrize("column, sent, stored", [
    ("n", 42, 42), ("n", "42", 42), ("n", "-7", -7), ("n", 3.0, 3), ("n", 2**63 - 1, 2**63 - 1),
    ("f", 1.5, 1.5), ("f", "2.25", 2.25), ("f", 3, 3.0),
    ("s", "Acme", "Acme"), ("d", "2024-05-01", date(2024, 5, 1)),
    ("ts", "2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("ts", "2024-05-01 12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("ts", "2024-05-01 10:00:00 UTC", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("ts", "2024-05-01T10:00:00.250000", datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)),
    ("ts", 1714557600, datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("b", True, True), ("b", "false", False), ("b", 1, True),
])
def test_what_fits_is_stored_as_its_type_and_not_reported(column, sent, stored):
    [row], fitted = typed_rows(ONE, [{column: sent}])
    assert row[column] == stored and type(row[column]) is type(stored) and fitted == []
    assert set(row) == {"n", "f", "s", "d", "ts", "b"} and all(v is None for k, v in row.items() if k != column)


@pytest.mark.parametrize("column, sent, stored", [
    ("n", "abc", None), ("n", 2**63, None), ("n", True, None), ("n", 1.5, None),
    ("f", "NaN", None), ("f", "Infinity", None), ("f", "x", None), ("f", False, None),
    ("s", "a\x00b", "a\ufffdb"), ("s", "lone \ud800", "lone \ufffd"), ("s", {"en": "x"}, '{"en": "x"}'), ("s", 7, "7"),
    ("d", "2024-13-40", None), ("d", "2024-05-01T10:00:00Z", None), ("ts", "yesterday", None), ("ts", [1], None),
    ("b", "maybe", None), ("b", 2, None),
    # Conversions that overflow or hit a limit: a time with no UTC in years 1-9999, a number past float or int
    ("ts", "0001-01-01T00:00:00+05:00", None), ("ts", "9999-12-31T23:00:00-05:00", None),
    pytest.param("ts", 10**400, None, id="ts-10**400"), pytest.param("f", 10**400, None, id="f-10**400"),
    pytest.param("n", "9" * 5000, None, id="n-5000-digits"),
])
def test_what_does_not_fit_is_stored_fitted_and_reported(column, sent, stored):
    [row], fitted = typed_rows(ONE, [{column: sent, "unknown_column": 1}])
    assert row[column] == stored and "unknown_column" not in row
    assert len(fitted) == 1 and fitted[0].startswith(f"{column}: ")
