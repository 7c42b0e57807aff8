"""What a paused review offers, and the answer to it, read from and sent to the Prefect API as the UI does.

A review (flows.review) pauses with a form behind its Resume button: the ReviewDecisions model, prefilled
with one decision per dead letter it claimed, and a table artifact of those letters (`dead-letters-pending`:
id, what failed, SpotDraft's reason, since). `paused_reviews` and `find_review` read both back; `answer_for`
turns a person's choices into the review's pause input (`reviewer`, and `decisions`, each
{dead_letter_id, action, payload, note}) and checks it against the offer and the model before anything is
sent; `send` resumes the run with it through `resume_flow_run`, the call behind the UI's Resume button.

Only the Prefect API is used: no database, no credentials. What is read is what the review shows in the UI,
which holds no secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from flows.review import Action, ReviewDecisions, review_failed_operations

REVIEW_FLOW = review_failed_operations.name
OFFER_ARTIFACT = "dead-letters-pending"  # written by the review just before it pauses
OUTCOME_ARTIFACT = "dead-letters-review"  # written by the review once it has carried the decisions out
ACTIONS = tuple(a.value for a in Action)


class AnswerError(Exception):
    """Input that cannot be sent, or a run that cannot be answered; nothing was sent."""


@dataclass(frozen=True)
class Letter:
    id: int
    operation: str
    target: str
    error: str  # SpotDraft's reason, or the error, as the review's table shows it
    since: str


@dataclass(frozen=True)
class Review:
    run_id: UUID
    name: str
    letters: tuple[Letter, ...]

    @property
    def label(self) -> str:
        return f"review {self.name!r} ({self.run_id})"


@dataclass
class Choices:
    """A person's decisions before they are checked: (letter id, action) in the order given, the corrected
    inputs and notes by letter id, and the action for every offered letter not named (`rest`)."""

    reviewer: str
    actions: list[tuple[int, str]] = field(default_factory=list)
    payloads: dict[int, Any] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)
    rest: str | None = None


# -- the answer, checked against the offer (pure) ------------------------------------------------------------
def answer_for(review: Review, choices: Choices) -> dict[str, Any]:
    """The run input to resume `review` with: one decision per offered letter (those not named get `rest`,
    else `leave`, as in the UI's form). Raises AnswerError for anything the review would refuse or ignore."""
    reviewer = choices.reviewer.strip()
    if not reviewer:
        raise AnswerError("the reviewer is empty: say who decides (it is recorded on each dead letter)")
    chosen: dict[int, str] = {}
    for letter_id, action in choices.actions:
        if action not in ACTIONS:
            raise AnswerError(f"dead letter {letter_id}: {action!r} is not an action; one of {', '.join(ACTIONS)}")
        if letter_id in chosen:
            raise AnswerError(f"dead letter {letter_id} is decided twice ({chosen[letter_id]} and {action}); "
                              "give one action per letter")
        chosen[letter_id] = action
    if choices.rest is not None and choices.rest not in ACTIONS:
        raise AnswerError(f"{choices.rest!r} is not an action; one of {', '.join(ACTIONS)}")
    if choices.rest == Action.retry_with_edits:
        raise AnswerError("retry_with_edits needs each letter's corrected inputs: name the letters one by one")
    offered = [letter.id for letter in review.letters]
    named = set(chosen) | set(choices.notes) | set(choices.payloads)
    unknown = sorted(named - set(offered))
    if unknown:
        raise AnswerError(f"{_letters(unknown)} not offered by {review.label}, which offers "
                          f"{', '.join(map(str, offered))}: see `list`")
    for letter_id in choices.payloads:
        if chosen.get(letter_id) != Action.retry_with_edits:
            raise AnswerError(f"dead letter {letter_id}: corrected inputs go with retry_with_edits alone")
    for letter_id, action in chosen.items():
        if action == Action.retry_with_edits and not isinstance(choices.payloads.get(letter_id), dict):
            raise AnswerError(f"dead letter {letter_id}: retry_with_edits needs the corrected inputs, a JSON object")
    if not chosen and choices.rest is None:
        raise AnswerError("no decision given: name letters with an action, or decide them all with --all ACTION")
    decisions = []
    for letter_id in offered:
        decision: dict[str, Any] = {"dead_letter_id": letter_id,
                                    "action": chosen.get(letter_id, choices.rest or Action.leave.value)}
        if letter_id in choices.payloads:
            decision["payload"] = choices.payloads[letter_id]
        if choices.notes.get(letter_id):
            decision["note"] = choices.notes[letter_id]
        decisions.append(decision)
    answer = {"reviewer": reviewer, "decisions": decisions}
    try:
        ReviewDecisions.model_validate(answer)  # the review's own check, here before anything is sent
    except ValidationError as error:
        raise AnswerError(f"the answer does not fit the review's form: {error}") from None
    return answer


def _letters(ids: list[int]) -> str:
    return f"dead letter {ids[0]} is" if len(ids) == 1 else f"dead letters {', '.join(map(str, ids))} are"


# -- reading the offer from Prefect ------------------------------------------------------------------------
def paused_reviews(api) -> list[Review]:
    """Every review run paused for a decision, oldest first (`api`: Prefect's sync client)."""
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    runs = api.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=[REVIEW_FLOW])),
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))),
        sort=FlowRunSort.START_TIME_ASC,
    )
    return [_review(api, run) for run in runs if _awaits_input(run)]


def find_review(api, run_id: str | None) -> Review:
    """The paused review `run_id` (a flow run id), or the only paused review when it is None."""
    from prefect.exceptions import ObjectNotFound

    if run_id is None:
        reviews = paused_reviews(api)
        if not reviews:
            raise AnswerError("no review is paused for a decision (`list --wait SECONDS` waits for one)")
        if len(reviews) > 1:
            raise AnswerError(f"{len(reviews)} reviews are paused; give the run id of one: "
                              + ", ".join(f"{r.run_id} ({r.name})" for r in reviews))
        return reviews[0]
    try:
        wanted = UUID(run_id.strip())
    except ValueError:
        raise AnswerError(f"{run_id[:60]!r} is not a flow run id (a UUID, as `list` prints it)") from None
    try:
        run = api.read_flow_run(wanted)
    except ObjectNotFound:
        raise AnswerError(f"no flow run {wanted} on this Prefect server") from None
    flow_name = api.read_flow(run.flow_id).name
    if flow_name != REVIEW_FLOW:
        raise AnswerError(f"flow run {wanted} ({run.name}) is a run of {flow_name}, not of {REVIEW_FLOW}")
    if not (run.state and run.state.is_paused()):
        state = run.state.name if run.state else "without a state"
        raise AnswerError(f"review {run.name!r} ({wanted}) is {state}, not paused for a decision: nothing to answer")
    if not _awaits_input(run):
        raise AnswerError(f"review {run.name!r} ({wanted}) is paused without a form to answer")
    return _review(api, run)


def _awaits_input(run) -> bool:
    return bool(run.state and run.state.is_paused() and run.state.state_details.run_input_keyset)


def _review(api, run) -> Review:
    keyset = run.state.state_details.run_input_keyset
    schema = json.loads(api.read_flow_run_input(run.id, keyset["schema"]))
    offered = schema.get("properties", {}).get("decisions", {}).get("default") or []
    rows = {row.get("id"): row for row in table_artifact(api, run.id, OFFER_ARTIFACT)}
    letters = []
    for item in offered:
        row = rows.get(str(item["dead_letter_id"]))
        if row:
            failed, reason = row.get("failed") or "", row.get("reason") or ""
        else:  # no table: the form's own `about`, "<operation> on <target>: <reason>"
            failed, _, reason = (item.get("about") or "").partition(": ")
        operation, _, target = failed.partition(" on ")  # operations are names without spaces
        letters.append(Letter(int(item["dead_letter_id"]), operation, target, reason, (row or {}).get("since", "")))
    return Review(run.id, run.name, tuple(letters))


def table_artifact(api, run_id: UUID, key: str) -> list[dict[str, Any]]:
    """The rows of the run's table artifact `key` (the newest), or [] when it has none."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    found = api.read_artifacts(
        artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(
            any_=[run_id])), sort=ArtifactSort.CREATED_DESC, limit=1)
    if not found:
        return []
    data = json.loads(found[0].data) if isinstance(found[0].data, str) else found[0].data
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []


# -- sending it ---------------------------------------------------------------------------------------------
def send(review: Review, answer: dict[str, Any]) -> None:
    """Resume the review with `answer`, as the UI's Resume form does."""
    from prefect.exceptions import FlowPauseTimeout, NotPausedError
    from prefect.flow_runs import resume_flow_run

    try:
        resume_flow_run(review.run_id, run_input=answer)
    except NotPausedError:
        raise AnswerError(f"{review.label} is no longer paused (answered meanwhile, or its wait ran out): "
                          "nothing sent") from None
    except FlowPauseTimeout:
        raise AnswerError(f"{review.label} waited too long and can no longer be resumed: nothing sent") from None
    except RuntimeError as error:  # the server refused the run input
        raise AnswerError(f"the Prefect server refused the answer to {review.label}: {error}") from None
