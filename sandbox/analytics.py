"""POST /api/v2.1/public/analytics/query/: GoogleSQL run for real over the workspace's analytics tables.

A query is parsed with sqlglot's BigQuery dialect (GoogleSQL), checked as SpotDraft documents it (one
read-only SELECT, allowlisted tables only, 10,000 characters), its `contracts` narrowed to what the
caller may see, transpiled to SQLite by sqlglot and run on an in-memory database of the workspace
(analytics_rows.py), rebuilt whenever the workspace has changed. An answer holds at most 5,000 rows
(`truncated` when more matched). Errors carry SpotDraft's codes, SD_PUBLIC_00040 to 00045; 501 while
`state.analytics_enabled` is off. Who may see what: the workspace's first user is its Admin, and so are
credentials without a user-email; another user sees the contracts they created, and asking for
workspace-wide contracts (`user_scoped` false) is an Admin's right (403 otherwise).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from .analytics_rows import contract_row, setup_rows, user_rows
from .wire import JSON, Reply, dumps, field_errors

if TYPE_CHECKING:
    from .data import SandboxState

CATALOG_PATH = Path(__file__).with_name("analytics_catalog.json")  # generated from the spec (make generate)
MAX_ROWS = 5000
MAX_QUERY_CHARS = 10_000
QUERY_TIMEOUT_S = 60.0
SCOPED = "contracts"  # the one table user_scoped narrows
STORED_AS = {"INT64": "INTEGER", "FLOAT64": "REAL", "STRING": "TEXT", "DATE": "TEXT", "TIMESTAMP": "TEXT",
             "BOOL": "INTEGER"}  # fmt: skip
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command)


@cache
def catalog() -> dict[str, Any]:
    with open(CATALOG_PATH, encoding="utf-8") as fh:
        return json.load(fh)


class QueryRefused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.reply = public_error(status, code, message)


def public_error(status: int, code: str, message: str) -> Reply:
    """SpotDraft's public error object."""
    body = {"detail": message, "status_code": status, "code": code, "message": message}
    return Reply(status, [(b"content-type", JSON)], json.dumps(body).encode())


def encoded(answer: dict[str, Any]) -> bytes:
    """The answer as JSON: wire.dumps (orjson when present) or, for text UTF-8 cannot carry (a lone surrogate,
    valid JSON only as `\\udXXX`), the standard library with every character outside ASCII escaped."""
    try:
        return dumps(answer)
    except UnicodeEncodeError:
        return json.dumps(answer, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode()


class AnalyticsQueries:
    """The endpoint's handler and the in-memory database it queries."""

    def __init__(self, state: SandboxState):
        self.state = state
        self.timeout_s = QUERY_TIMEOUT_S
        self._db: sqlite3.Connection | None = None
        self._built_at: int | None = None  # the state's change count the database was built from
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the handler

    def query(self, req, params, route) -> Reply:
        if not self.state.analytics_enabled:
            return public_error(501, "SD_PUBLIC_00045", "The analytics query API is not enabled for this workspace. "
                                "Contact SpotDraft support to enable PUBLIC_ANALYTICS_QUERY_API.")
        try:
            body = req.json() if req.is_json() else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return field_errors({"non_field_errors": ["Expected a JSON object with a query."]})
        sql, scoped = body.get("query"), body.get("user_scoped")
        if not isinstance(sql, str) or not sql.strip():
            return field_errors({"query": ["This field is required."]})
        if len(sql) > MAX_QUERY_CHARS:
            return field_errors({"query": [f"Ensure this field has no more than {MAX_QUERY_CHARS} characters."]})
        if scoped is None:
            scoped = _header_flag(req.headers.get("x-spotdraft-analytics-user-scoped"))
        if scoped is not None and not isinstance(scoped, bool):
            return field_errors({"user_scoped": ["Must be a valid boolean."]})
        try:
            answer = self.run(sql, req.user_email, scoped is not False)
        except QueryRefused as refused:
            return refused.reply
        return Reply(200, [(b"content-type", JSON)], encoded(answer))

    def run(self, sql: str, user_email: str | None, user_scoped: bool) -> dict[str, Any]:
        started = time.perf_counter()
        statement, tables = self._checked(sql)
        admin = user_email is None or user_email == self.state.users[0].email
        if SCOPED in tables and not user_scoped and not admin:
            raise QueryRefused(403, "SD_PUBLIC_00044", "Workspace-wide contract rows need the workspace Admin role; "
                               "send user_scoped true, or call as an Admin.")
        if SCOPED in tables and not admin:
            user = next(n for n, u in enumerate(self.state.users) if u.email == user_email)
            _rename(statement, SCOPED, f"contracts_of_user_{user}")
        with self._lock:
            db = self._database()
            try:
                deadline = time.monotonic() + self.timeout_s
                db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
                cursor = db.execute(statement.sql(dialect="sqlite"))
                found = cursor.fetchmany(MAX_ROWS + 1)
            except sqlite3.OperationalError as error:
                raise _execution_error(error) from None
            finally:
                db.set_progress_handler(None, 0)
        columns = [d[0] for d in cursor.description]
        bools = {c for t in tables for c, kind in catalog()["tables"][t]["columns"] if kind == "BOOL"}
        rows = [{name: _shown(value, name in bools) for name, value in zip(columns, row, strict=True)}
                for row in found[:MAX_ROWS]]
        return {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": len(found) > MAX_ROWS,
                "execution_ms": round((time.perf_counter() - started) * 1000, 3)}

    # ------------------------------------------------------------------ checks

    def _checked(self, sql: str) -> tuple[exp.Expression, set[str]]:
        """The one SELECT, its tables renamed to the catalog's lower-case names, and the tables it reads."""
        try:
            statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as error:
            raise QueryRefused(400, "SD_PUBLIC_00042", f"The query could not be parsed: {_first_line(error)}") from None
        if len(statements) != 1:
            raise QueryRefused(400, "SD_PUBLIC_00040", "Send exactly one SELECT statement.")
        [statement] = statements
        if not isinstance(statement, exp.Select | exp.SetOperation) or any(statement.find_all(*_WRITES)):
            raise QueryRefused(400, "SD_PUBLIC_00040", "Only a read-only SELECT (with optional WITH or UNION) is "
                               "allowed.")
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        tables = set()
        for table in statement.find_all(exp.Table):
            name = table.name.lower()
            if name in ctes and not table.db:
                continue
            if table.db or table.catalog or name not in catalog()["allowlisted"]:
                raise QueryRefused(400, "SD_PUBLIC_00041", f"Table {table.sql(dialect='bigquery')} is not in the "
                                   "allowlisted analytics catalog.")
            tables.add(name)
            if not table.alias:
                table.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
            table.set("this", exp.to_identifier(name))
        return statement, tables

    # ------------------------------------------------------------------ the database

    def _database(self) -> sqlite3.Connection:
        """The in-memory database as of the workspace's latest change (held under self._lock)."""
        with self.state.lock:
            if self._db is None or self._built_at != self.state.changes:
                if self._db is not None:
                    self._db.close()
                self._db, self._built_at = self._build(), self.state.changes
        return self._db

    def _build(self) -> sqlite3.Connection:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        state, tables = self.state, catalog()["tables"]
        for name in catalog()["allowlisted"]:
            spec = tables[name]
            db.execute(f'CREATE TABLE "{name}" ({", ".join(f"{c} {STORED_AS[k]}" for c, k in spec["columns"])})')
            if spec["key"]:
                db.execute(f'CREATE INDEX "ix_{name}" ON "{name}" ("{spec["key"]}")')
        contracts = [state.contracts[i] for i in state.ordered_ids()]
        self._fill(db, "contracts", (contract_row(c, state.workspace_id, state.seed) for c in contracts))
        self._fill(db, "users", user_rows(state))
        for name, rows in setup_rows(state).items():
            self._fill(db, name, rows)
        db.execute("CREATE TABLE contract_access (contract_id INTEGER PRIMARY KEY, user_email TEXT)")
        db.executemany("INSERT INTO contract_access VALUES (?, ?)", ((c.id, c.created_by.email) for c in contracts))
        columns = ", ".join(f'c."{name}"' for name, _ in tables["contracts"]["columns"])
        for number, user in enumerate(state.users):
            email = "'" + user.email.replace("'", "''") + "'"  # a view takes no parameters: a quoted literal
            db.execute(f'CREATE VIEW "contracts_of_user_{number}" AS SELECT {columns} FROM contracts c JOIN '
                       f"contract_access a ON a.contract_id = c.contract_id WHERE a.user_email = {email}")
        db.commit()
        return db

    def _fill(self, db: sqlite3.Connection, table: str, rows) -> None:
        spec = catalog()["tables"][table]
        names = [name for name, _ in spec["columns"]]
        overrides: dict[Any, dict[str, Any]] = {}
        for (of, key, column), value in self.state.analytics_values.items():
            if of == table:
                overrides.setdefault(key, {})[column] = _stored(value)

        def values(row: dict[str, Any]) -> tuple[Any, ...]:
            changed = overrides.get(row.get(spec["key"])) if overrides else None
            return tuple(map({**row, **changed}.get if changed else row.get, names))

        marks = ", ".join("?" for _ in names)
        db.executemany(f'INSERT INTO "{table}" VALUES ({marks})', map(values, rows))


def _stored(value: Any) -> Any:
    """Text SQLite cannot take as text (a lone surrogate) is kept as its bytes, and read back as it was."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass")
    return value


def _shown(value: Any, boolean: bool) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogatepass")
    if boolean and isinstance(value, int):
        return bool(value)
    return value


def _rename(statement: exp.Expression, name: str, to: str) -> None:
    for table in statement.find_all(exp.Table):
        if table.name == name and not table.db:
            table.set("this", exp.to_identifier(to))


def _header_flag(raw: str | None) -> bool | None:
    if raw is None:
        return None
    return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(raw.strip().lower())


def _execution_error(error: sqlite3.OperationalError) -> QueryRefused:
    text = str(error)
    if text == "interrupted":
        return QueryRefused(502, "SD_PUBLIC_00043", "Query execution failed: the query job timed out.")
    if text.startswith(("no such column", "no such function", "no such table")):
        return QueryRefused(400, "SD_PUBLIC_00042", f"The query could not be transpiled safely: {text}.")
    return QueryRefused(502, "SD_PUBLIC_00043", f"Query execution failed: {text}.")


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
