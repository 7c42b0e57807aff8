"""The headline's arithmetic (flows/analytics_report.py): percentiles, and the 90-day window it reports on, read from
a snapshot in a real SQLite database (no Prefect needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from flows.analytics_report import ALL_TYPES, headline, percentile
from store import ANALYTICS_TABLES, analytics_snapshots, engine_for, utcnow


@pytest.mark.parametrize("values, share, expected", [
    ([], 0.5, None), ([4.0], 0.9, 4.0), ([1, 2, 3, 4], 0.5, 2.5), ([10, 1, 5], 0.5, 5),
    (list(range(1, 11)), 0.9, 9.1), ([1, 100], 0.9, 90.1),
])
def test_percentiles_interpolate_between_the_sorted_values(values, share, expected):
    assert percentile(values, share) == (None if expected is None else pytest.approx(expected))


def _executed(kind: str, on: date, days: float, sign: float | None = 2.0, turns: int | None = 3) -> dict:
    return {"contract_id": hash((kind, on, days)) % 10**9, "contract_type": kind, "contract_status": "Executed",
            "execution_date": on, "execution_time": days, "sign_time": sign, "turns": turns}


def test_the_window_is_the_90_days_up_to_the_newest_execution_never_past_today(sqlite_url):
    engine = engine_for(sqlite_url)
    newest = date(2025, 3, 31)
    rows = [_executed("NDA", newest, 10), _executed("NDA", newest - timedelta(days=89), 20),
            _executed("NDA", newest - timedelta(days=90), 500),  # a day before the window
            _executed("MSA", newest - timedelta(days=3), 40, sign=None, turns=None),
            {**_executed("MSA", newest, 1), "contract_status": "Sign"}]
    with engine.begin() as conn:
        conn.execute(ANALYTICS_TABLES["contracts"].insert(), rows)
        conn.execute(analytics_snapshots.insert().values(table_name="contracts", taken_at=utcnow(),
                                                         swapped_at=utcnow(), row_count=5, pages=1, paging="test"))
    table, covers = headline(engine)
    assert covers.startswith("contracts executed 2025-01-01 to 2025-03-31 (90 days up to the newest execution)")
    assert table == [
        {"contract type": "NDA", "executed": "2", "median execution (days)": "15.0", "p90 execution (days)": "19.0",
         "median sign (days)": "2.0", "median turns": "3.0"},
        {"contract type": "MSA", "executed": "1", "median execution (days)": "40.0", "p90 execution (days)": "40.0",
         "median sign (days)": "-", "median turns": "-"},
        {"contract type": ALL_TYPES, "executed": "3", "median execution (days)": "20.0",
         "p90 execution (days)": "36.0", "median sign (days)": "2.0", "median turns": "3.0"},
    ]
    future = datetime.now(UTC).date() + timedelta(days=400)
    with engine.begin() as conn:
        conn.execute(ANALYTICS_TABLES["contracts"].insert(), [_executed("NDA", future, 1)])
    _, covers = headline(engine)
    assert f"to {datetime.now(UTC).date():%Y-%m-%d}" in covers  # a date in the future is not trusted
