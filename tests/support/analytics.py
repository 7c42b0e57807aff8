"""What the analytics tests compare: counts through SpotDraft's query API, and what the database holds."""

from __future__ import annotations

import sqlalchemy as sa

from store import ANALYTICS_TABLES, analytics_snapshots, engine_for

QUERY_PATH = "/api/v2.1/public/analytics/query/"


def api_count(credentials, table: str, user_scoped: bool | None = None) -> int:
    """COUNT(*) of a catalog table, asked of the API (the sandbox's own answer)."""
    body = {"query": f"SELECT COUNT(*) AS n FROM `{table}`"}
    if user_scoped is not None:
        body["user_scoped"] = user_scoped
    return credentials.get_client().call("run_analytics_query", body=body)["rows"][0]["n"]


def stored_count(database_url: str, table: str) -> int:
    with engine_for(database_url).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ANALYTICS_TABLES[table])).scalar_one()


def snapshots(database_url: str) -> dict[str, dict]:
    """analytics_snapshots by table."""
    with engine_for(database_url).connect() as conn:
        return {r.table_name: dict(r._mapping) for r in conn.execute(sa.select(analytics_snapshots))}


def analytics_requests(sandbox) -> list:
    return [r for r in sandbox.request_log("POST") if r.path == QUERY_PATH]
