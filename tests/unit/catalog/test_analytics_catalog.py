"""The analytics catalog `make generate` writes (client/analytics_catalog.py, store/analytics_tables.py, the sandbox's
copy) against the spec's "Analytics Query Table Catalog": every table and column with its type, the allowlist, the
keys, and the storage types the issue asks for."""

from __future__ import annotations

import copy
import json
import re

import pytest
import sqlalchemy as sa
import yaml

from client.analytics_catalog import ALLOWLISTED, TABLES
from store import ANALYTICS_TABLES
from tests.support.paths import ROOT, SPEC_PATH, require_spec
from tools.catalog_gen.analytics import read_catalog

STORED = {"INT64": sa.BigInteger, "FLOAT64": sa.Double, "STRING": sa.Text, "DATE": sa.Date, "TIMESTAMP": sa.DateTime,
          "BOOL": sa.Boolean}


@pytest.fixture(scope="module")
def spec() -> dict:
    require_spec()
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def test_every_catalog_table_and_column_is_there_with_its_type(spec):
    catalog = spec["info"]["description"].split("# Analytics Query Table Catalog", 1)[1]
    listed = re.findall(r"^- \[`([a-z0-9_]+)`\]", catalog, re.MULTILINE)  # the catalog's table of contents
    assert list(TABLES) == listed and len(listed) == 17
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| `([A-Z0-9]+)` \|", catalog, re.MULTILINE)
    assert [c for t in TABLES.values() for c in t.columns] == rows
    contracts = TABLES["contracts"]
    assert len(contracts.columns) == 45
    assert {c: contracts.type_of(c) for c in ("execution_time", "sign_time", "turns", "created_date", "sign_starts",
                                              "counterparty_name")} == {
        "execution_time": "FLOAT64", "sign_time": "FLOAT64", "turns": "INT64", "created_date": "DATE",
        "sign_starts": "TIMESTAMP", "counterparty_name": "STRING"}
    assert TABLES["users"].type_of("is_active") == "BOOL"
    assert "On Hold" in contracts.enums["contract_status"]


def test_the_allowlist_and_the_keys_the_catalog_names(spec):
    assert ALLOWLISTED == ("contracts", "users", "workflows_setup", "contract_types_setup", "counterparties_setup",
                           "approvals_setup", "entities_setup", "signatures_setups")
    keys = {name: table.key for name, table in TABLES.items() if table.key}
    assert keys["contracts"] == "contract_id" and keys["users"] == "id"
    assert keys["contract_types_setup"] == "contract_type_id" and keys["signatories"] == "signatory_id"
    assert TABLES["counterparties_setup"].key is None and TABLES["workflows_setup"].key is None


def test_each_table_is_stored_typed_without_a_primary_key_its_key_indexed():
    assert set(ANALYTICS_TABLES) == set(TABLES)
    for name, spec_table in TABLES.items():
        table = ANALYTICS_TABLES[name]
        assert table.name == f"analytics_{name}" and not table.primary_key.columns
        assert [(c.name, type(c.type)) for c in table.columns] == [(c, STORED[k]) for c, k in spec_table.columns]
        assert all(c.nullable for c in table.columns)
        indexed = [[c.name for c in index.columns] for index in table.indexes]
        assert indexed == ([[spec_table.key]] if spec_table.key else [])
    assert ANALYTICS_TABLES["contracts"].c.sign_starts.type.timezone is True


def test_the_sandbox_has_the_same_catalog():
    copy_ = json.loads((ROOT / "sandbox" / "analytics_catalog.json").read_text(encoding="utf-8"))
    assert copy_["allowlisted"] == list(ALLOWLISTED)
    assert {n: (t["key"], [tuple(c) for c in t["columns"]]) for n, t in copy_["tables"].items()} == {
        n: (t.key, list(t.columns)) for n, t in TABLES.items()}


def test_a_catalog_the_generator_cannot_read_stops_it_with_the_table(spec):
    broken = copy.deepcopy(spec)
    broken["info"]["description"] = broken["info"]["description"].replace("| `turns` | `INT64` |",
                                                                          "| `turns` | `INTEGER` |")
    with pytest.raises(SystemExit, match=r"table contracts has columns of unknown types \['INTEGER'\]"):
        read_catalog(broken)
    broken = copy.deepcopy(spec)
    path = broken["paths"]["/api/v2.1/public/analytics/query/"]["post"]
    path["description"] = path["description"].replace("| `Users` |", "| `Ledger` |")
    with pytest.raises(SystemExit, match="names tables outside the catalog"):
        read_catalog(broken)
