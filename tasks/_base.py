"""What every SpotDraft task shares: Prefect options, the retry condition, the attempt budget.

Retrying happens in one place, the client (it can honour Retry-After and log each retry with its
context). Prefect's own task retries are wired to `transient_only`, which says yes only for a
transient failure of an operation safe to repeat *and* while the operation's attempt budget has
requests and time left; the budget is kept per task run across Prefect's retries, so the two layers
together never send more than SPOTDRAFT_RETRY_MAX_ATTEMPTS requests for one operation.

No task is cached: NO_CACHE means polling a status twice reaches the API twice, also when result
persistence is on. No result is persisted either (persist_result=False): nothing could reuse it,
and an answer may hold a secret (a webhook's HMAC key) that must not be written to result storage.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.logging import get_run_logger

from blocks import SpotDraftCredentials
from client import OPERATIONS_BY_NAME, AttemptBudget, RetrySettings, SpotDraftClient, SpotDraftError
from client.operation import Operation
from client.results import protect_secrets

F = TypeVar("F", bound=Callable[..., Any])

_BUDGETS_KEPT = 10_000  # budgets of task runs that may still be retried; oldest forgotten first
_budgets: OrderedDict[UUID, AttemptBudget] = OrderedDict()
_budgets_lock = threading.Lock()


def budget_for_this_run(client: SpotDraftClient) -> AttemptBudget:
    """The attempt budget of the current task run, the same object across Prefect's retries."""
    ctx = TaskRunContext.get()
    if ctx is None:  # called via .fn() outside a task run: a fresh budget per call
        return client.new_budget()
    with _budgets_lock:
        budget = _budgets.get(ctx.task_run.id)
        if budget is None:
            budget = _budgets[ctx.task_run.id] = client.new_budget()
            while len(_budgets) > _BUDGETS_KEPT:
                _budgets.popitem(last=False)
        return budget


def _forget_budget(task_run_id: UUID) -> None:
    with _budgets_lock:
        _budgets.pop(task_run_id, None)


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: transient, safe to repeat, and within the operation's budget."""
    error = state.data if isinstance(state.data, BaseException) else None
    retry = (
        isinstance(error, SpotDraftError)
        and bool(error.context.extra.get("retryable"))
        and error.context.attempts < (error.context.max_attempts or 0)
    )
    if not retry:
        _forget_budget(task_run.id)
    return retry


def run_logger():
    try:
        return get_run_logger()
    except Exception:  # outside a run (task.fn() in a script): fall back to the client's logger
        return None


def call_operation(credentials: SpotDraftCredentials, operation: str, **request: Any) -> Any:
    """Call one catalog operation with the budget and logger of the current task run.

    Secret-named fields of the answer (a webhook's HMAC key, tokens) come back as SecretStr.
    """
    client = credentials.get_client()
    result = client.call(operation, budget=budget_for_this_run(client), logger=run_logger(), **request)
    ctx = TaskRunContext.get()
    if ctx is not None:
        _forget_budget(ctx.task_run.id)
    return protect_secrets(result, operation)


def _as_task(fn: F, name: str, summary: str, operations: list[Operation], **retries: Any) -> F:
    """The Prefect options every SpotDraft task shares: no caching, no persisted result, tagged by operation."""
    return task(
        fn,
        name=name,
        description=(fn.__doc__ or summary).strip().splitlines()[0],
        tags=["spotdraft", f"spotdraft:family:{operations[0].family}",
              *(f"spotdraft:operation:{op.operation_id}" for op in operations)],
        cache_policy=NO_CACHE,
        persist_result=False,
        log_prints=False,
        **retries,
    )


def spotdraft_task(operation: str) -> Callable[[F], F]:
    """Decorate a function as the Prefect task of catalog operation `operation`."""
    op: Operation = OPERATIONS_BY_NAME[operation]
    settings = RetrySettings()

    def decorate(fn: F) -> F:
        return _as_task(fn, op.name, op.summary, [op], retries=max(0, settings.max_attempts - 1),
                        retry_delay_seconds=settings.base_delay, retry_condition_fn=transient_only)

    return decorate


def multi_step_task(name: str, *operations: str) -> Callable[[F], F]:
    """Decorate a function that chains catalog operations (and signed-URL transfers) as one task.

    Each step is retried by the client under its own attempt budget, so every operation keeps the
    SPOTDRAFT_RETRY_MAX_ATTEMPTS promise; Prefect does not retry the whole, which would repeat
    steps that already succeeded.
    """
    ops = [OPERATIONS_BY_NAME[o] for o in operations]

    def decorate(fn: F) -> F:
        return _as_task(fn, name, name, ops, retries=0)

    return decorate
