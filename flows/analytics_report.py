"""What an operator reads after a sync_analytics run: how long contracts take, and what the run did.

The headline is computed from the snapshot in analytics_contracts, per contract type: contracts executed
in the 90 days up to the newest execution in the snapshot (today at the latest: a date in the future is
not trusted), the median and 90th percentile of `execution_time` (days from
created to executed), the median `sign_time` (days in Sign) and the median negotiation `turns`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from store import ANALYTICS_TABLES, utcnow
from store.analytics_swap import snapshot_of

WINDOW_DAYS = 90
ALL_TYPES = "All contract types"


def percentile(values: Sequence[float], share: float) -> float | None:
    """The `share` quantile by linear interpolation between the sorted values (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def headline(engine) -> tuple[list[dict[str, str]], str]:
    """The headline table's rows (one per contract type, most executed first, then all types) and what it covers."""
    contracts = ANALYTICS_TABLES["contracts"]
    snapshot = snapshot_of(engine, "contracts")
    if snapshot is None:
        return [], "no snapshot of analytics_contracts yet"
    executed = sa.and_(contracts.c.contract_status == "Executed", contracts.c.execution_date.is_not(None))
    with engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(contracts.c.execution_date)).where(executed)).scalar()
        if newest is None:
            return [], f"no executed contract in the snapshot of {snapshot['taken_at']:%Y-%m-%d %H:%M} UTC"
        newest = min(_as_date(newest), utcnow().date())
        start = newest - timedelta(days=WINDOW_DAYS - 1)
        query = sa.select(contracts.c.contract_type, contracts.c.execution_time, contracts.c.sign_time,
                          contracts.c.turns).where(executed, contracts.c.execution_date.between(start, newest))
        figures: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for kind, execution, sign, turns in conn.execute(query):
            for group in (kind or "(no contract type)", ALL_TYPES):
                figures[group]["executed"].append(1)
                for name, value in (("execution", execution), ("sign", sign), ("turns", turns)):
                    if value is not None:
                        figures[group][name].append(value)
    order = sorted((k for k in figures if k != ALL_TYPES), key=lambda k: (-len(figures[k]["executed"]), k))
    rows = [{
        "contract type": kind,
        "executed": str(len(figures[kind]["executed"])),
        "median execution (days)": _days(percentile(figures[kind]["execution"], 0.5)),
        "p90 execution (days)": _days(percentile(figures[kind]["execution"], 0.9)),
        "median sign (days)": _days(percentile(figures[kind]["sign"], 0.5)),
        "median turns": _days(percentile(figures[kind]["turns"], 0.5)),
    } for kind in [*order, ALL_TYPES]]
    covers = (f"contracts executed {start:%Y-%m-%d} to {newest:%Y-%m-%d} ({WINDOW_DAYS} days up to the newest "
              f"execution), from the snapshot of {snapshot['taken_at']:%Y-%m-%d %H:%M} UTC")
    return rows, covers


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def summary_rows(outcomes: Sequence[Any]) -> list[dict[str, str]]:
    """One row per table: rows and pages of its new snapshot and when it was taken, or why it was not synced."""
    rows = []
    for outcome in outcomes:
        if outcome.error is not None:
            done = f"not synced: {outcome.error}"
        else:
            fitted = f", {outcome.fitted} value(s) fitted" if outcome.fitted else ""
            done = (f"{outcome.rows} rows in {outcome.pages} page(s), {outcome.paging}{fitted}; snapshot of "
                    f"{outcome.taken_at:%Y-%m-%d %H:%M:%S} UTC")
        rows.append({"table": f"analytics_{outcome.table}", "snapshot": done})
    return rows
