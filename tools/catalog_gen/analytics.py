"""The analytics table catalog, read from the spec: client/analytics_catalog.py, store/analytics_tables.py and
sandbox/analytics_catalog.json.

The spec's description holds the catalog ("Analytics Query Table Catalog"): one section per table with
its columns (name, GoogleSQL type) and enum values; the analytics operation's description lists the
tables its endpoint accepts (the allowlist). What is taken: names, types, enum values, which column the
catalog calls a primary key or unique id, and the allowlist; none of its prose.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tools.catalog_gen import GENERATED

CATALOG_HEADING = "# Analytics Query Table Catalog"
ANALYTICS_PATH = "/api/v2.1/public/analytics/query/"
TYPES = ("INT64", "FLOAT64", "STRING", "DATE", "TIMESTAMP", "BOOL")
# How each GoogleSQL type is stored (store/analytics_tables.py): the mapping.
SQL_TYPES = {"INT64": "sa.BigInteger()", "FLOAT64": "sa.Double()", "STRING": "sa.Text()", "DATE": "sa.Date()",
             "TIMESTAMP": "sa.DateTime(timezone=True)", "BOOL": "sa.Boolean()"}
_SECTION = re.compile(r"^## `([a-z0-9_]+)`\s*$", re.MULTILINE)
_COLUMN = re.compile(r"^\| `([a-z0-9_]+)` \| `([A-Z0-9]+)` \| (Yes|No) \| (.*?) \|\s*$", re.MULTILINE)
_ENUM_HEADING = re.compile(r"^#### `([a-z0-9_]+)`\s*$", re.MULTILINE)
_ENUM_VALUE = re.compile(r"^- `([^`]*)`\s*$", re.MULTILINE)
_KEY_WORDS = re.compile(r"^(primary key|unique)\b", re.IGNORECASE)


@dataclass
class Table:
    name: str
    columns: list[tuple[str, str]]
    key: str | None
    enums: dict[str, list[str]] = field(default_factory=dict)


def read_catalog(spec: dict[str, Any]) -> tuple[list[Table], list[str]]:
    """Every catalog table in the spec's order, and the allowlisted ones (lower case, in the spec's order)."""
    description = spec.get("info", {}).get("description", "")
    if CATALOG_HEADING not in description:
        raise SystemExit(f"the spec's description has no {CATALOG_HEADING!r} section")
    text = description.split(CATALOG_HEADING, 1)[1]
    starts = list(_SECTION.finditer(text))
    tables = []
    for number, start in enumerate(starts):
        end = starts[number + 1].start() if number + 1 < len(starts) else len(text)
        body = text[start.end():end]
        rows = _COLUMN.findall(body.split("### Enum values")[0])
        if not rows:
            raise SystemExit(f"analytics catalog: table {start.group(1)} has no columns")
        unknown = sorted({kind for _, kind, _, _ in rows} - set(TYPES))
        if unknown:
            raise SystemExit(f"analytics catalog: table {start.group(1)} has columns of unknown types {unknown}")
        key = next((name for name, _, _, said in rows if _KEY_WORDS.match(said.strip())), None)
        tables.append(Table(start.group(1), [(name, kind) for name, kind, _, _ in rows], key,
                            _enums(body, {name for name, *_ in rows}, start.group(1))))
    return tables, _allowlist(spec, {t.name for t in tables})


def _enums(body: str, columns: set[str], table: str) -> dict[str, list[str]]:
    if "### Enum values" not in body:
        return {}
    part = body.split("### Enum values", 1)[1]
    heads = list(_ENUM_HEADING.finditer(part))
    enums = {}
    for number, head in enumerate(heads):
        end = heads[number + 1].start() if number + 1 < len(heads) else len(part)
        if head.group(1) not in columns:
            raise SystemExit(f"analytics catalog: {table} lists enum values of an unknown column {head.group(1)}")
        enums[head.group(1)] = _ENUM_VALUE.findall(part[head.end():end])
    return enums


def _allowlist(spec: dict[str, Any], known: set[str]) -> list[str]:
    """The tables the endpoint's description lists as allowlisted ("| `Contracts` | ... |")."""
    description = spec["paths"][ANALYTICS_PATH]["post"]["description"]
    part = description.split("Allowlisted tables", 1)[1].split("**", 1)[1].split("\n\n")[1]
    names = [name.lower() for name in re.findall(r"^\| `([A-Za-z0-9_]+)` \|", part, re.MULTILINE)]
    if not names or set(names) - known:
        raise SystemExit(f"analytics allowlist {names} is empty or names tables outside the catalog")
    return names


def catalog_module(tables: list[Table], allowlisted: list[str]) -> str:
    """client/analytics_catalog.py."""
    out = ['"""The analytics tables SpotDraft\'s query API knows: columns, their GoogleSQL types, keys, enum values.',
           "", GENERATED, "", "`ALLOWLISTED` are the tables the endpoint accepts, in the spec's order.", '"""', "",
           "from __future__ import annotations", "", "from client.analytics import AnalyticsTable", "",
           f"ALLOWLISTED: tuple[str, ...] = {tuple(allowlisted)!r}", "",
           "TABLES: dict[str, AnalyticsTable] = {"]
    for table in tables:
        enums = {column: tuple(values) for column, values in table.enums.items()}
        out.append(f"    {table.name!r}: AnalyticsTable(name={table.name!r}, key={table.key!r}, "
                   f"columns={tuple(table.columns)!r}, enums={enums!r}),")
    out.append("}")
    return "\n".join(out) + "\n"


def store_module(tables: list[Table]) -> str:
    """store/analytics_tables.py: analytics_<table> for every catalog table, typed from the catalog."""
    out = ['"""The tables `sync_analytics` writes: `analytics_<table>` for each table of the analytics catalog.',
           "", GENERATED, "",
           "INT64 is BIGINT, FLOAT64 DOUBLE, STRING TEXT, DATE DATE, TIMESTAMP a timestamp with time zone, BOOL",
           "BOOLEAN. No primary key: the catalog's keys are nullable and unchecked upstream; the key, where the",
           "catalog names one, is indexed. A change here needs an Alembic revision (store/migrations/versions/).",
           '"""', "", "from __future__ import annotations", "", "import sqlalchemy as sa", "",
           "from store.tables import metadata", ""]
    for table in tables:
        out.append(f"analytics_{table.name} = sa.Table(")
        out.append(f"    'analytics_{table.name}', metadata,")
        out.extend(f"    sa.Column({name!r}, {SQL_TYPES[kind]})," for name, kind in table.columns)
        if table.key:
            out.append(f"    sa.Index('ix_analytics_{table.name}_{table.key}', {table.key!r}),")
        out.append(")")
        out.append("")
    out.append("# The catalog table's name -> its table here.")
    out.append("ANALYTICS_TABLES: dict[str, sa.Table] = {")
    out.extend(f"    {table.name!r}: analytics_{table.name}," for table in tables)
    out.append("}")
    return "\n".join(out) + "\n"


def sandbox_json(tables: list[Table], allowlisted: list[str]) -> str:
    """sandbox/analytics_catalog.json: the same catalog for the sandbox, which imports nothing of ours."""
    data = {"generated": GENERATED, "allowlisted": allowlisted,
            "tables": {t.name: {"key": t.key, "columns": t.columns, "enums": t.enums} for t in tables}}
    return json.dumps(data, indent=1) + "\n"
