"""The catalog against SpotDraft's spec, the tasks against the catalog, and input checks that never reach the wire.

The spec (../shared/spotdraft-openapi.yml) is read here and by the generator only; the runtime
never needs it. These are pure-logic checks: where a client is needed it talks to an
`httpx.MockTransport` that counts requests, so "nothing was sent" is a fact, not a hope. The
generator runs as `make generate` runs it, on a committed copy of the files it reads and writes,
so that `git status` can say what it changed.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import inspect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import BaseModel, SecretStr

import client
import tasks
from client import files, models
from client.catalog import OPERATIONS, OPERATIONS_BY_NAME
from client.errors import InvalidRequestError
from client.http import SpotDraftClient
from client.operation import Operation
from client.result_secrets import protect_secrets
from tests.support.paths import ROOT, SPEC_PATH, require_spec
from tools import generate_catalog

METHODS = ("get", "post", "put", "patch", "delete")
AUTH_HEADERS = {"client-id", "client-secret", "user-email"}
_PARAM = re.compile(r"{([^}]+)}")


@pytest.fixture(scope="module")
def spec() -> dict:
    require_spec()
    with open(SPEC_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


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


# ---------------------------------------------------------------------------------------- the tasks
def test_every_entry_has_its_task_with_name_and_tags():
    assert tasks.__all__ == sorted(tasks.__all__)
    assert set(tasks.__all__) == set(OPERATIONS_BY_NAME)
    for op in OPERATIONS:
        task = getattr(tasks, op.name)
        assert task.name == op.name
        assert f"spotdraft:operation:{op.operation_id}" in task.tags, op.name
        assert f"spotdraft:family:{op.family}" in task.tags, op.name
        family = importlib.import_module(f"tasks.{op.family}")
        assert getattr(family, op.name) is task and op.name in family.__all__, op.name  # tasks.<family>.<name>
        assert task.fn.__module__ in (f"tasks.{op.family}", f"tasks._handwritten.{op.family}"), op.name
        params = list(inspect.signature(task.fn).parameters)
        assert params[0] == "credentials", op.name
        for name in op.path_params:
            assert name in params, f"{op.name}: path parameter {name} is not a task parameter"
        assert (task.fn.__doc__ or "").strip(), f"{op.name} has no docstring"


def test_public_task_signatures_are_kept():
    def sig(name):
        return str(inspect.signature(getattr(tasks, name).fn))

    assert sig("list_contracts").startswith("(credentials: 'SpotDraftCredentials', page: 'int' = 1, limit: 'int' = 100")
    assert "**filters" in sig("list_contracts")
    assert sig("get_contract_status") == (
        "(credentials: 'SpotDraftCredentials', composite_id: 'str') -> 'dict[str, Any]'"
    )
    assert list(inspect.signature(tasks.create_contract.fn).parameters) == ["credentials", "body"]
    assert list(inspect.signature(tasks.get_contracts_by_external_metadata.fn).parameters) == [
        "credentials", "external_metadata_id"]
    assert list(inspect.signature(tasks.get_contract_key_pointers.fn).parameters) == ["credentials", "composite_id"]
    assert "**filters" in sig("list_counterparties")
    assert next(iter(inspect.signature(tasks.list_templates.fn).parameters)) == "credentials"
    # create_contract keeps going through the reconciling writer
    assert "writes.create_contract" in inspect.getsource(tasks.create_contract.fn)


def test_download_tasks_take_a_destination_and_uploads_a_file():
    for op in OPERATIONS:
        params = inspect.signature(getattr(tasks, op.name).fn).parameters
        if op.response_kind == "binary":
            assert "destination" in params, op.name
    for name in ("upload_executed_contract", "upload_contract_for_review", "upload_contract_for_signature",
                 "upload_contract_version", "upload_supporting_document", "upload_sidebar_file"):
        params = inspect.signature(getattr(tasks, name).fn).parameters
        assert {"file", "file_name"} <= set(params), name


def test_docs_list_every_task():
    text = (ROOT / "docs" / "tasks.md").read_text(encoding="utf-8")
    for op in OPERATIONS:
        assert f"| `{op.name}` | {op.method} | `{op.path}` |" in text, op.name


# ------------------------------------------------------------------------------------ generation
def run_generator(tree: Path, *args: str) -> subprocess.CompletedProcess:
    """The generator as `make generate` runs it, on the repository at `tree`."""
    return subprocess.run(
        [sys.executable, "-m", "tools.generate_catalog", "--spec", str(SPEC_PATH), *args],
        cwd=tree, capture_output=True, text=True, check=False,
    )


def git(tree: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.test", "-c", "commit.gpgsign=false", *args],
        cwd=tree, capture_output=True, text=True, check=True,
    )
    return done.stdout


def clean_tree(tmp_path: Path) -> Path:
    """A committed copy of what the generator reads and writes, so it can be run (and broken) out of the way."""
    tree = tmp_path / "repo"
    for name in ("tools", "client", "tasks", "docs", "store", "sandbox"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("README.md", "pyproject.toml", ".gitignore"):
        shutil.copy2(ROOT / name, tree / name)
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "--no-verify", "-m", "clean")
    return tree


def test_generated_files_are_up_to_date():
    require_spec()
    done = run_generator(ROOT, "--check")
    assert done.returncode == 0, f"regenerating would change files:\n{done.stdout}{done.stderr}"


def test_make_generate_is_a_no_op_on_a_clean_tree(tmp_path):
    require_spec()
    dry = subprocess.run(["make", "-n", "generate", f"SPEC={SPEC_PATH}"], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    (command,) = [line for line in dry.stdout.splitlines() if "tools.generate_catalog" in line]
    assert command.endswith(f"python -m tools.generate_catalog --spec {SPEC_PATH}"), command
    tree = clean_tree(tmp_path)
    done = run_generator(tree)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert git(tree, "status", "--porcelain") == ""
    # It does write: a generated file edited by hand is put back as it was.
    edited = tree / "tasks" / "contracts.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "\nEDITED = True\n", encoding="utf-8")
    done = run_generator(tree)
    assert done.returncode == 0 and done.stdout == "wrote tasks/contracts.py\n", done.stdout + done.stderr
    assert git(tree, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("module", "operation", "says"),
    [
        ("contracts", "archive_contract", "an operation the catalog does not have"),
        ("integrations", "get_contract_notes", "belongs in tasks/_handwritten/notes.py"),
    ],
)
def test_a_misplaced_hand_written_task_stops_the_generator_with_its_name(tmp_path, module, operation, says):
    require_spec()
    tree = clean_tree(tmp_path)
    path = tree / "tasks" / "_handwritten" / f"{module}.py"
    source = path.read_text(encoding="utf-8")
    task = f'@spotdraft_task("{operation}")\ndef {operation}(credentials: SpotDraftCredentials) -> None:\n    """x"""\n'
    path.write_text(f"{source}\n\n{task}", encoding="utf-8")
    line = source.count("\n") + 4  # the def line, after two blank lines and the decorator
    done = run_generator(tree, "--check")
    assert done.returncode == 1 and done.stdout == "", done.stdout
    assert f"tasks/_handwritten/{module}.py:{line}: hand-written task {operation!r}" in done.stderr, done.stderr
    assert says in done.stderr, done.stderr
    assert git(tree, "status", "--porcelain") == f" M tasks/_handwritten/{module}.py\n"  # nothing was written


def test_hand_written_tasks_are_found_and_not_generated_again():
    """What the generator reads from tasks/_handwritten is exactly what importing `tasks` gets from there."""
    found = generate_catalog.read_handwritten()
    imported = {n: getattr(tasks, n).fn.__module__ for n in tasks.__all__
                if getattr(tasks, n).fn.__module__.startswith("tasks._handwritten.")}
    assert {"create_contract", "list_contracts", "queue_native_integration_contracts"} <= set(found)
    assert {n: f"tasks._handwritten.{w.family}" for n, w in found.items()} == imported
    for name, written in found.items():
        generated = (ROOT / "tasks" / f"{written.family}.py").read_text(encoding="utf-8")
        assert f"def {name}(" not in generated, f"{name} is generated as well as written by hand"


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({"contracts.py": '@spotdraft_task("list_contracts")\ndef contracts(credentials): ...\n'},
         "contracts.py:2: hand-written task 'contracts' is decorated for 'list_contracts'"),
        ({"contracts.py": '@spotdraft_task(NAME)\ndef list_contracts(credentials): ...\n'},
         "one string literal"),
        ({"misc.py": '@spotdraft_task("list_contracts")\ndef list_contracts(credentials): ...\n'},
         "misc.py: hand-written tasks go in a module named after their family"),
        ({"contracts.py": '@spotdraft_task("list_contracts")\ndef list_contracts(credentials): ...\n',
          "counterparties.py": '@_base.spotdraft_task("list_contracts")\ndef list_contracts(credentials): ...\n'},
         "already written by hand at"),
    ],
)
def test_hand_written_modules_are_read_strictly(tmp_path, files, says):
    for name, source in files.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    with pytest.raises(SystemExit, match=re.escape(says)):
        generate_catalog.read_handwritten(tmp_path)


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


# ---------------------------------------------------------------------------- request models
def counting_client() -> tuple[SpotDraftClient, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"ok": True})

    c = SpotDraftClient("cid", "test-secret-value", base_url="https://api.example.test",
                        transport=httpx.MockTransport(handler))
    return c, sent


def valid_contract() -> dict:
    return {
        "contract_template_id": 12,
        "contract_data": {"customer_name": "Acme"},
        "counter_party_details": [
            {"is_individual": False, "organization_name": "Acme",
             "poc_details": {"first_name": "Ada", "email": "ada@acme.test"}},
        ],
    }


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["counter_party_details"][0]["poc_details"].pop("email"),
         "counter_party_details.0.poc_details.email"),
        (lambda b: b["counter_party_details"][0]["poc_details"].pop("first_name"),
         "counter_party_details.0.poc_details.first_name"),
        (lambda b: b["counter_party_details"][0].pop("is_individual"), "counter_party_details.0.is_individual"),
        (lambda b: b["counter_party_details"][0].pop("poc_details"), "counter_party_details.0.poc_details"),
        (lambda b: b.pop("contract_template_id"), "contract_template_id"),
        (lambda b: b.pop("contract_data"), "contract_data"),
        (lambda b: b.pop("counter_party_details"), "counter_party_details"),
        (lambda b: b.update(contract_template_id="twelve"), "contract_template_id"),
        (lambda b: b.update(contract_nmae="typo"), "contract_nmae"),
    ],
)
def test_bad_create_contract_body_never_reaches_the_wire(mutate, field):
    c, sent = counting_client()
    body = valid_contract()
    mutate(body)
    with pytest.raises(InvalidRequestError) as caught:
        c.call("create_contract", body=body)
    assert field in str(caught.value)
    assert "create_contract" in str(caught.value)
    assert sent == []


def test_valid_create_contract_body_is_sent_once_as_given():
    c, sent = counting_client()
    c.call("create_contract", body=valid_contract())
    assert len(sent) == 1
    assert json.loads(sent[0].content) == valid_contract()
    assert sent[0].url.path == "/api/v2.1/public/contracts/"


def test_other_bad_input_never_reaches_the_wire():
    c, sent = counting_client()
    with pytest.raises(InvalidRequestError, match="composite_id"):
        c.call("get_contract_status", path_params={"composite_id": "123; DROP"})
    with pytest.raises(InvalidRequestError, match="contract_id"):
        c.call("list_contract_obligations", path_params={"contract_id": "T-12"})
    with pytest.raises(InvalidRequestError, match="unknown query parameter"):
        c.call("list_contracts", query={"filter__no_such_field": "x"})
    with pytest.raises(InvalidRequestError, match="url"):
        c.call("create_webhook", body={"url": 12})
    with pytest.raises(InvalidRequestError, match="flags"):
        c.call("check_workspace_feature_flags", body={})
    with pytest.raises(InvalidRequestError, match="webhook_url"):  # nullable, but must be https
        c.call("upload_sidebar_file", body={"entity_id": "e", "upload_source": "chat", "webhook_url": "http://x"})
    with pytest.raises(InvalidRequestError, match="upload_source"):
        c.call("upload_sidebar_file", body={"entity_id": "e", "upload_source": "inbox"})
    with pytest.raises(InvalidRequestError):  # a list body whose items miss a required field
        c.call("bulk_update_contract_obligations", path_params={"contract_id": 1}, body=[{"status": "PENDING"}])
    with pytest.raises(InvalidRequestError, match="questionnaire_type"):
        c.call("get_contract_questionnaire_responses", path_params={"contract_id": 1})
    assert sent == []


def test_every_request_model_refuses_unknown_fields_and_accepts_its_own_shape():
    for op in OPERATIONS:
        model = op.body_model
        if model is None:
            continue
        assert issubclass(model, BaseModel)
        if issubclass(model, models.RootModel):
            continue
        assert model.model_config.get("extra") == "forbid", op.name
        with pytest.raises(ValueError):
            model.model_validate({"surely_not_a_field": 1})


def test_nullable_and_not_nullable_optionals():
    # nullable: None is accepted; optional but not nullable: may be left out, None is refused
    models.PublicAnalyticsQueryRequest.model_validate({"query": "select 1", "user_scoped": None})
    models.InviteUserAndAssignRolesPublicRequest.model_validate({"first_name": "A", "email": "a@b.test"})
    with pytest.raises(ValueError):
        models.InviteUserAndAssignRolesPublicRequest.model_validate(
            {"first_name": "A", "email": "a@b.test", "last_name": None})


# ------------------------------------------------------------------------------ files and secrets
def test_download_streams_to_a_file_and_closes(tmp_path):
    chunks = [b"%PDF-1.4\n", b"x" * 70_000, b"\n%%EOF\n"]

    class Stream(httpx.SyncByteStream):
        closed = False

        def __iter__(self):
            yield from chunks

        def close(self):
            Stream.closed = True

    def handler(request):
        return httpx.Response(200, headers={"content-type": "application/pdf",
                                            "content-disposition": 'attachment; filename="T-1.pdf"'},
                              stream=Stream())

    c = SpotDraftClient("cid", "test-secret-value", base_url="https://api.example.test",
                        transport=httpx.MockTransport(handler))
    response = c.call("download_contract", path_params={"composite_id": "T-1"})
    assert isinstance(response, httpx.Response) and not response.is_closed
    result = files.download_to(response, tmp_path / "out.pdf")
    assert result == {"path": str(tmp_path / "out.pdf"), "bytes": sum(map(len, chunks)),
                      "content_type": "application/pdf"}
    assert (tmp_path / "out.pdf").read_bytes() == b"".join(chunks)
    assert response.is_closed and Stream.closed
    assert [p.name for p in tmp_path.iterdir()] == ["out.pdf"]  # no temporary file left behind
    again = files.download_to(c.call("download_contract", path_params={"composite_id": "T-1"}), tmp_path)
    assert again["path"] == str(tmp_path / "T-1.pdf")


def test_a_broken_download_leaves_no_file(tmp_path):
    class Broken(httpx.SyncByteStream):
        def __iter__(self):
            yield b"partial"
            raise httpx.ReadError("connection reset")

    response = httpx.Response(200, stream=Broken())
    with pytest.raises(httpx.ReadError):
        files.download_to(response, tmp_path / "out.pdf")
    assert list(tmp_path.iterdir()) == []


def test_multipart_upload_sends_the_file_as_a_part(tmp_path):
    c, sent = counting_client()
    source = tmp_path / "notes.txt"
    source.write_bytes(b"hello sidebar")
    body = {"entity_id": "6f1c2a4e-0000-4000-8000-000000000001", "upload_source": "chat"}
    with files.open_upload(str(source)) as part:
        c.call("upload_sidebar_file", body=body, files={"file": part})
    (request,) = sent
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    raw = request.read()
    assert b'name="file"; filename="notes.txt"' in raw and b"hello sidebar" in raw
    assert b'name="upload_source"' in raw and b"chat" in raw
    with files.open_upload(b"raw bytes", "r.pdf") as (name, handle, ctype):
        assert (name, handle.read(), ctype) == ("r.pdf", b"raw bytes", "application/pdf")
    with pytest.raises(ValueError, match="file_name"), files.open_upload(b"raw bytes"):
        pass


def test_base64_upload_reads_the_file(tmp_path):
    source = tmp_path / "signed.pdf"
    source.write_bytes(b"%PDF-1.4 signed")
    assert files.base64_upload(str(source)) == ("signed.pdf", base64.b64encode(b"%PDF-1.4 signed").decode())
    assert files.base64_upload(b"abc", "x.pdf") == ("x.pdf", "YWJj")


def test_secret_named_fields_come_back_wrapped():
    answer = {"hmac_key": "c2VjcmV0", "items": [{"token": "tok-123", "name": "n"}], "key_pointers": [1]}
    protected = protect_secrets(answer)
    assert isinstance(protected["hmac_key"], SecretStr)
    assert protected["hmac_key"].get_secret_value() == "c2VjcmV0"
    assert isinstance(protected["items"][0]["token"], SecretStr)
    assert protected["items"][0]["name"] == "n" and protected["key_pointers"] == [1]
    assert "c2VjcmV0" not in repr(protected) and "tok-123" not in repr(protected)
