"""Real databases for the flow tests: SQLite files, and PostgreSQL servers (tools/postgres.py, which the
benchmarks share)."""

from tools.postgres import _as_postgres, new_database, postgres_bin, postgres_server, prefect_database

__all__ = ["_as_postgres", "new_database", "postgres_bin", "postgres_server", "prefect_database"]
