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

import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.context import TaskRunContext
from prefect.logging import get_run_logger
from prefect.states import State

from blocks import SpotDraftCredentials
from client import OPERATIONS_BY_NAME, AttemptBudget, RetrySettings, SpotDraftClient, SpotDraftError
from client.operation import Operation
from client.redaction import scrub_text
from client.result_secrets import protect_secrets

# A decorated function becomes a prefect Task of the same parameters and result, so a user's type checker
# accepts `.submit`, `.map`, `.with_options` and `.fn` on it, with its arguments checked.
P = ParamSpec("P")
R = TypeVar("R")

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


def transient_only(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
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


# Path parameters never shown in a run name, whatever their value: a name is stored and shown by Prefect.
_NEVER_SHOWN = ("secret", "token", "password", "signature", "credential")
_SHOWN_MAX = 40  # characters of one id in a run name


def _shown(value: Any) -> str | None:
    """An id as a run name shows it: a number or one short line of text; anything else is left out."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    # One line of printable text: control characters go, and a lone surrogate (which Prefect cannot send
    # in its events, leaving the run Pending on the server) becomes U+FFFD.
    raw = str(value).encode("utf-8", "replace").decode("utf-8")
    text = " ".join("".join(c for c in raw if c.isprintable() or c.isspace()).split())
    if not text:
        return None
    text = scrub_text(text)  # a value that happens to be a known secret is masked, as in any log line
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX - 1] + "\u2026"


def task_run_namer(name: str, fn: Callable[..., Any], operations: list[Operation]) -> Callable[..., str]:
    """The task_run_name of a SpotDraft task: its operation and the ids it is about, e.g.
    "get_contract_status T-123", "update_contract_note contract_id=12 note_id=7", "list_contracts page 2".

    Only the ids of the operation's path and the page number are shown: never a body, a query,
    a file or anything else a caller passes, which may hold personal data or a secret.
    """
    accepted = inspect.signature(fn).parameters
    ids = [p for p in dict.fromkeys(p for op in operations for p in op.path_params)
           if p in accepted and p.endswith("_id") and not any(word in p for word in _NEVER_SHOWN)]
    paged = "page" in accepted

    def run_name(parameters: dict[str, Any]) -> str:
        try:
            shown = [(p, _shown(parameters.get(p))) for p in ids]
            shown = [(p, v) for p, v in shown if v is not None]
            parts = [name, *([shown[0][1]] if len(shown) == 1 else [f"{p}={v}" for p, v in shown])]
            page = _shown(parameters.get("page")) if paged else None
            if page is not None:
                parts.append(f"page {page}")
            return " ".join(parts)
        except Exception:  # a run name must never fail the task
            return name

    return run_name


def _as_task(
    fn: Callable[P, R],
    name: str,
    summary: str,
    operations: list[Operation],
    *,
    retries: int,
    retry_delay_seconds: float | None = None,
    retry_condition_fn: Callable[[Task[..., Any], TaskRun, State[Any]], bool] | None = None,
) -> Task[P, R]:
    """The Prefect options every SpotDraft task shares: no caching, no persisted result, tagged by operation,
    each run named after its operation and the ids it is about."""
    return task(
        name=name,
        task_run_name=task_run_namer(name, fn, operations),
        description=(fn.__doc__ or summary).strip().splitlines()[0],
        tags=["spotdraft", f"spotdraft:family:{operations[0].family}",
              *(f"spotdraft:operation:{op.operation_id}" for op in operations)],
        cache_policy=NO_CACHE,
        persist_result=False,
        log_prints=False,
        retries=retries,
        retry_delay_seconds=retry_delay_seconds,
        retry_condition_fn=retry_condition_fn,
    )(fn)


def spotdraft_task(operation: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Decorate a function as the Prefect task of catalog operation `operation`."""
    op: Operation = OPERATIONS_BY_NAME[operation]
    settings = RetrySettings()

    def decorate(fn: Callable[P, R]) -> Task[P, R]:
        return _as_task(fn, op.name, op.summary, [op], retries=max(0, settings.max_attempts - 1),
                        retry_delay_seconds=settings.base_delay, retry_condition_fn=transient_only)

    return decorate


def multi_step_task(name: str, *operations: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Decorate a function that chains catalog operations (and signed-URL transfers) as one task.

    Each step is retried by the client under its own attempt budget, so every operation keeps the
    SPOTDRAFT_RETRY_MAX_ATTEMPTS promise; Prefect does not retry the whole, which would repeat
    steps that already succeeded.
    """
    ops = [OPERATIONS_BY_NAME[o] for o in operations]

    def decorate(fn: Callable[P, R]) -> Task[P, R]:
        return _as_task(fn, name, name, ops, retries=0)

    return decorate
