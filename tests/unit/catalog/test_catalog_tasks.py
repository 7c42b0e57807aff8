"""One Prefect task per catalog entry: named and tagged after its operation, in its family's module, with
the public signatures kept, a destination for downloads and a file for uploads, and listed in docs/tasks.md."""

from __future__ import annotations

import importlib
import inspect

import tasks
from client.catalog import OPERATIONS, OPERATIONS_BY_NAME
from tests.support.paths import ROOT


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
