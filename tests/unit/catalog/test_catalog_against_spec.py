"""The catalog against SpotDraft's spec: exactly the current operations (v2.1, and v1 where nothing newer
supersedes it), each with the spec's method, path, parameters, patterns, body and kind of answer; names
that say what they do; retry safety by the rules; every Operation field read; no sentence of spec prose.

The spec (../shared/spotdraft-openapi.yml) is read here and by the generator only; the runtime never needs it.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

import client
from client.catalog import OPERATIONS, OPERATIONS_BY_NAME
from client.operation import Operation
from tests.support.paths import ROOT, spotdraft_spec

METHODS = ("get", "post", "put", "patch", "delete")
AUTH_HEADERS = {"client-id", "client-secret", "user-email"}
_PARAM = re.compile(r"{([^}]+)}")


@pytest.fixture(scope="module")
def spec() -> dict:
    return spotdraft_spec()


def spec_operations(spec: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): {**op, "_common": item.get("parameters", [])}
        for path, item in spec["paths"].items()
        for method in METHODS
        if (op := item.get(method)) is not None
    }


def _shape(path: str) -> str:
    """The path without its version prefix, parameter names and trailing slash, for "same operation"."""
    rest = re.sub(r"^/api/v[0-9.]+/public", "", path)
    return _PARAM.sub("{}", rest).rstrip("/")


def current_operations(spec: dict) -> dict[tuple[str, str], dict]:
    """Every v2.1 operation, plus each v1 operation that no v2 or v2.1 operation supersedes."""
    ops = spec_operations(spec)
    newer = {(m, _shape(p)) for (m, p) in ops if p.startswith(("/api/v2.1/", "/api/v2/"))}
    return {
        (m, p): op
        for (m, p), op in ops.items()
        if p.startswith("/api/v2.1/") or (p.startswith("/api/v1/") and (m, _shape(p)) not in newer)
    }


# -------------------------------------------------------------------------------------- the catalog
def test_catalog_is_exactly_the_current_operations(spec):
    current = current_operations(spec)
    assert sum(p.startswith("/api/v2.1/") for _, p in current) == 102
    assert sum(p.startswith("/api/v1/") for _, p in current) == 12
    in_catalog = {(op.method, op.path) for op in OPERATIONS}
    assert len(OPERATIONS) == len(in_catalog) == 114
    assert sorted(set(current) - in_catalog) == [], "current operations without a catalog entry"
    assert sorted(in_catalog - set(current)) == [], "catalog entries the spec does not have (or superseded)"


def test_each_entry_matches_its_spec_operation(spec):
    ops = spec_operations(spec)
    for op in OPERATIONS:
        found = ops.get((op.method, op.path))
        assert found is not None, f"{op.name}: {op.method} {op.path} is not in the spec"
        assert found["operationId"] == op.operation_id, op.name
        assert op.version == re.match(r"^/api/(v[0-9.]+)/", op.path).group(1), op.name
        assert (found.get("requestBody") is not None) == (op.body_model is not None), f"{op.name}: body model"
        if found.get("requestBody"):
            assert op.body_required == bool(found["requestBody"].get("required")), op.name
            assert op.body_kind in ("json", "multipart"), op.name


def test_parameters_are_the_spec_parameters(spec):
    ops = spec_operations(spec)
    for op in OPERATIONS:
        raw = ops[(op.method, op.path)]
        declared = {}
        for p in [*raw["_common"], *raw.get("parameters", [])]:
            if p["in"] == "header" and p["name"].lower() in AUTH_HEADERS:
                continue
            if p["in"] == "path" and p["name"] not in op.path_params:
                continue  # a few spec entries declare path parameters their path does not have
            declared[(p["in"], p["name"])] = p
        ours = {(p.location, p.name): p for p in op.params}
        assert set(ours) == set(declared), f"{op.name}: parameters differ from the spec"
        for name in op.path_params:
            param = op.param(name)
            assert param is not None and param.location == "path" and param.required, f"{op.name}: {name}"
        for key, p in declared.items():
            assert ours[key].required == (bool(p.get("required")) or p["in"] == "path"), f"{op.name}: {key}"
            pattern = (p.get("schema") or {}).get("pattern")
            if pattern:
                assert ours[key].pattern == pattern, f"{op.name}: {key} pattern"
        for p in op.params:  # every pattern we check compiles and accepts a plausible value
            if p.pattern:
                re.compile(p.pattern)


def test_auth_headers_are_never_catalog_parameters():
    for op in OPERATIONS:
        assert not {p.name.lower() for p in op.params if p.location == "header"} & AUTH_HEADERS, op.name


def test_names_are_unique_snake_case_and_say_what_they_do():
    names = [op.name for op in OPERATIONS]
    assert len(names) == len(set(names))
    for name in names:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", name), name
    assert {op.name: op for op in OPERATIONS} == OPERATIONS_BY_NAME
    assert client.OPERATIONS is OPERATIONS
    for name in ("list_contracts", "void_contract", "create_counterparty_contact", "get_webhook_hmac_key",
                 "deactivate_user", "get_contract_status", "create_contract", "get_contracts_by_external_metadata",
                 "get_contract_key_pointers", "list_templates", "list_counterparties"):
        assert name in OPERATIONS_BY_NAME, name


def test_the_core_entries_keep_their_names_and_paths():
    core = {
        "list_contracts": ("GET", "/api/v2.1/public/contracts/"),
        "create_contract": ("POST", "/api/v2.1/public/contracts/"),
        "get_contract_status": ("GET", "/api/v2.1/public/contracts/{composite_id}/status"),
        "get_contracts_by_external_metadata": (
            "GET", "/api/v2.1/public/contracts/by_external_metadata/{external_metadata_id}"),
        "get_contract_key_pointers": ("GET", "/api/v2.1/public/contracts/{composite_id}/key_pointers"),
        "list_templates": ("GET", "/api/v2.1/public/templates/"),
        "list_counterparties": ("GET", "/api/v2.1/public/counter_parties/"),
        "deactivate_user": ("DELETE", "/api/v1/public/auth/users/{user_id}"),
        "update_user": ("PATCH", "/api/v1/public/auth/users/{user_id}"),
    }
    for name, (method, path) in core.items():
        op = OPERATIONS_BY_NAME[name]
        assert (op.method, op.path) == (method, path), name
    assert OPERATIONS_BY_NAME["create_contract"].safe_to_retry is False
    assert OPERATIONS_BY_NAME["list_contracts"].paginated
    assert OPERATIONS_BY_NAME["list_counterparties"].paginated
    status = OPERATIONS_BY_NAME["get_contract_status"]
    assert [p.name for p in status.params] == ["composite_id"]  # the spec's stray contract_id is dropped


def test_safe_to_retry_follows_the_rules():
    for op in OPERATIONS:
        if op.method == "GET":
            assert op.safe_to_retry, op.name
        elif op.method in ("PUT", "PATCH", "DELETE"):
            assert op.safe_to_retry == bool(op.path_params), op.name
    writes = {"create_contract", "create_counterparty", "void_contract", "invite_user", "create_webhook",
              "send_contract_to_counterparties", "upload_contract_for_signature", "retrigger_contract_webhooks"}
    for name in writes:
        assert OPERATIONS_BY_NAME[name].safe_to_retry is False, name
    reads = {"download_contract", "get_contract_download_link", "download_contract_docx", "preview_contract",
             "run_analytics_query", "run_sidebar_query", "get_clickwrap_consent_status",
             "get_key_pointer_field_mapping"}
    for name in reads:
        assert OPERATIONS_BY_NAME[name].safe_to_retry is True, name


def test_kinds_of_body_and_answer(spec):
    ops = spec_operations(spec)
    binary = set()
    for op in OPERATIONS:
        for code, answer in ops[(op.method, op.path)]["responses"].items():
            if str(code).startswith("2"):
                for ctype, media in (answer.get("content") or {}).items():
                    if (media.get("schema") or {}).get("format") == "binary" or ctype in (
                        "application/pdf", "application/octet-stream"):
                        binary.add(op.name)
    assert binary == {op.name for op in OPERATIONS if op.response_kind == "binary"}
    assert binary == {"download_contract", "download_contract_docx", "preview_contract"}
    assert OPERATIONS_BY_NAME["upload_sidebar_file"].body_kind == "multipart"
    for op in OPERATIONS:
        if op.paginated:
            assert {"page", "limit"} <= {p.name for p in op.params}, op.name


def test_every_operation_field_is_read():
    """A field of Operation that no runtime code reads is noise in every catalog entry: remove it instead."""
    runtime = [path for package in ("client", "tasks", "flows", "blocks", "webhooks")
               for path in (ROOT / package).rglob("*.py") if path.name != "catalog.py"]
    text = "\n".join(path.read_text(encoding="utf-8") for path in runtime)
    unread = [f.name for f in dataclasses.fields(Operation) if not re.search(rf"\.{f.name}\b", text)]
    assert unread == []


def test_no_sentence_of_the_spec_prose_is_copied(spec):
    """Our summaries and docstrings are our own words: no sentence of the spec's descriptions appears."""
    sentences = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("description", "summary") and isinstance(value, str):
                    for s in re.split(r"(?<=[.!?])\s+|\n+", value):
                        s = s.strip(" *-`#|")
                        if len(s) >= 40 and " " in s:
                            sentences.add(s)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    generated = [ROOT / "client" / "catalog.py", ROOT / "client" / "models.py", ROOT / "docs" / "tasks.md",
                 *sorted((ROOT / "tasks").rglob("*.py"))]
    for path in generated:
        text = " ".join(path.read_text(encoding="utf-8").split())
        copied = [s for s in sentences if " ".join(s.split()) in text]
        assert copied == [], f"{path.name} repeats spec prose: {copied[:3]}"
    spec_summaries = {op.get("summary", "").strip().lower() for op in spec_operations(spec).values()}
    assert not [op.name for op in OPERATIONS if op.summary.strip().lower() in spec_summaries]
