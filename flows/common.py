"""What the flows share: contract ids, the parameter-masking flow class, the dead-letter event and final state.

The database URL rules live in store.database_url (no Prefect needed there); they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import Flow
from prefect.events import emit_event
from prefect.states import Completed, State

from client.redaction import hide_url_secrets
from store.database_url import (  # re-exported: where the flows have always found them
    DATABASE_URL_PATTERN,
    check_database_url,
    database_url_or_default,
    default_database_url,
    shown_database_url,
)

__all__ = [
    "DATABASE_URL_PATTERN",
    "DEAD_LETTERED",
    "DEAD_LETTER_EVENT",
    "UrlSafeFlow",
    "check_database_url",
    "composite_id_of",
    "data_flow",
    "database_url_or_default",
    "default_database_url",
    "emit_dead_letters",
    "finished",
    "run_name_from",
    "shown_database_url",
]

DEAD_LETTER_EVENT = "spotdraft.dead-letters.recorded"

def composite_id_of(record: dict[str, Any]) -> str:
    """The T-/H- id the per-contract endpoints take; a bare number is a template (T-) contract."""
    raw = str(record.get("composite_id") or record["id"])
    return raw if raw[:2] in ("T-", "H-") else f"T-{raw}"


class UrlSafeFlow(Flow):
    """A flow whose parameters are stored with any URL's password masked.

    Prefect stores a run's parameters before the flow's code runs, so the refusal of a database URL
    that carries a password (check_database_url) would come too late for what Prefect keeps, shows
    in the UI and hands to triggers. The flow itself still receives the value as given, and refuses it.
    """

    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        def safe(key: str, value: Any) -> Any:
            if key == "database_url" and isinstance(value, str):
                return shown_database_url(value)
            return hide_url_secrets(value) if isinstance(value, str) and "://" in value else value

        return {key: safe(key, value) for key, value in super().serialize_parameters(parameters).items()}


def run_name_from(name_of: Callable[[dict[str, Any]], str]) -> Callable[[], str]:
    """A `flow_run_name` for Prefect: `name_of` the run's parameters, as Prefect holds them."""
    def run_name() -> str:
        from prefect.runtime import flow_run

        return name_of(flow_run.parameters or {})

    return run_name


def data_flow(name: str, run_name: str | Callable[[dict[str, Any]], str], **options: Any):
    """`prefect.flow` for our flows: a UrlSafeFlow called `name`, each run named by `run_name` (Prefect's
    template text, or a function of the run's parameters), its print() calls not logged."""
    flow_run_name = run_name if isinstance(run_name, str) else run_name_from(run_name)
    return lambda fn: UrlSafeFlow(fn, name=name, flow_run_name=flow_run_name, log_prints=False, **options)


def emit_dead_letters(count: int) -> None:
    """Tell Prefect something was given up on; automations route it to the review flow."""
    from prefect.runtime import flow_run

    emit_event(
        event=DEAD_LETTER_EVENT,
        resource={"prefect.resource.id": f"prefect.flow-run.{flow_run.id}", "prefect.resource.name": flow_run.name},
        payload={"flow_run_id": str(flow_run.id), "flow_name": flow_run.flow_name, "count": count},
    )


DEAD_LETTERED = "Dead-lettered"  # the name of a Completed state of a run that gave something up


def finished(message: str, summary: dict[str, Any], dead_lettered: int) -> State:
    """The final state of a data flow (create or sync), its message logged: Completed, named for its
    dead letters if any, which are also announced (emit_dead_letters) for the review's trigger.

    It stays a COMPLETED state, the run did its job: each failure is a dead letter, for the review
    flow. The name is what the Prefect UI shows on the run's badge, in the runs list too, so
    "Dead-lettered" tells an operator at a glance what otherwise hides in a log line; the message
    gives the count and says what to do. The name is fixed, as Prefect's own state names are
    (Cached, Late...), because Prefect names the run's state event after it: an automation can
    match `prefect.flow-run.Dead-lettered`, which a name carrying the count would make impossible.
    A clean run keeps plain "Completed".
    """
    from prefect.logging import get_run_logger

    logger = get_run_logger()
    if dead_lettered:
        message += f"; {dead_lettered} dead-lettered, see the dead_letters table or run review_failed_operations"
        emit_dead_letters(dead_lettered)
        logger.warning(message)
        return Completed(name=DEAD_LETTERED, message=message, data=summary)
    logger.info(message)
    return Completed(message=message, data=summary)
