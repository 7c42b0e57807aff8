"""A flow written the way a user writes one with our tasks, for a type checker to read.

tests/unit/catalog/test_typing.py runs mypy on this file (and runs the flow itself against the sandbox, so it is
a flow that works, not only one that type-checks). pytest does not collect it: its name is not test_*.

Each `assert_type` and annotated assignment below states what a checker must infer on its own. Were a
task decorator to hand back the plain function again, `.submit`, `.map` and `.with_options` would be
unknown attributes; were it to hand back Any, `assert_type` would fail. Either way mypy reports it.
"""

from __future__ import annotations

from typing import Any, assert_type

from prefect import Task, flow, unmapped
from prefect.futures import PrefectFuture, PrefectFutureList
from prefect.states import State

from blocks import SpotDraftCredentials
from flows.common import composite_id_of
from tasks import get_contract_status, list_contracts, list_templates
from tasks.transfers import upload_workspace_file


@flow(name="typed-example")
def contract_overview(credentials: SpotDraftCredentials, limit: int = 3) -> dict[str, Any]:
    # .submit: a future of the task's own result type.
    first_page: PrefectFuture[dict[str, Any]] = list_contracts.submit(credentials, page=1, limit=limit)
    page = first_page.result()
    assert_type(page, dict[str, Any])
    ids = [composite_id_of(record) for record in page["results"]]

    # .map: one run per id; the Block is the same for every run, so it is unmapped (a Block is iterable).
    statuses = get_contract_status.map(unmapped(credentials), ids)
    assert_type(statuses, PrefectFutureList[dict[str, Any]])

    # .with_options: the same parameters and result, other Prefect options.
    untagged: Task[[SpotDraftCredentials, str], dict[str, Any]] = get_contract_status.with_options(
        name="status-once", retries=0
    )
    once: dict[str, Any] = untagged(credentials, ids[0])

    # A direct call returns the result; return_state=True the State; wait_for orders runs (Prefect's
    # overloads of .submit take wait_for only beside an explicit return_state=False).
    templates: dict[str, Any] = list_templates(credentials, include_archived=False)
    state = list_templates(credentials, return_state=True)
    assert_type(state, State[dict[str, Any]])
    after = get_contract_status.submit(credentials, ids[-1], return_state=False, wait_for=[first_page])
    assert_type(after, PrefectFuture[dict[str, Any]])

    # .fn: the undecorated function, same signature.
    plain = get_contract_status.fn(credentials, ids[0])
    assert_type(plain, dict[str, Any])

    # A multi-step task types like the rest.
    upload: PrefectFuture[dict[str, Any]] = upload_workspace_file.submit(credentials, b"%PDF-1.4\n", "note.pdf")

    return {
        "ids": ids,
        "statuses": statuses.result(),
        "once": once,
        "templates": templates,
        "state": state.result(),
        "after": after.result(),
        "plain": plain,
        "upload": upload.result(),
    }
