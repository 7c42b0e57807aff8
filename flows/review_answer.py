"""`python -m flows.review_answer`: answer a paused review from a shell, as the UI's Resume form does.

    list   [RUN_ID] [--wait SECONDS] [--json]
    answer [RUN_ID] --reviewer NAME [--retry ID...] [--discard ID...] [--leave ID...]
           [--retry-with-edits ID=JSON|ID=@FILE]... [--note ID=TEXT]... [--all ACTION] [--dry-run] [--no-wait]

`list` prints each paused review and the dead letters it offers (id, operation, target, error, since).
`answer` sends the review's pause input (`reviewer`, and one decision per offered letter: those not named
stay `leave`, or take `--all ACTION`), checked first against what the review offers: a letter it does not
offer, corrected inputs that are not a JSON object, a run that is not a paused review are errors, and
nothing is sent. Then it waits for the review to carry the decisions out and prints each outcome.
RUN_ID may be left out while exactly one review is paused. It talks to the Prefect server PREFECT_API_URL
names, and to nothing else (flows/review_offers.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from flows.review_offers import (
    ACTIONS,
    OUTCOME_ARTIFACT,
    AnswerError,
    Choices,
    Review,
    answer_for,
    find_review,
    paused_reviews,
    send,
    table_artifact,
)

COMMAND = ".venv/bin/python -m flows.review_answer"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
BAD_INPUT, FAILED = 2, 1  # exit statuses: nothing was sent / the review did not end Completed


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        api_url = _api_url()
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as api:
            try:
                return _list(api, args) if args.command == "list" else _answer(api, args)
            except httpx.HTTPError as error:  # unreachable, or refusing: say where and how, not what it answered
                status = getattr(getattr(error, "response", None), "status_code", None)
                print(f"error: the Prefect API at {api_url} failed: {type(error).__name__}"
                      + (f" (HTTP {status})" if status else ""), file=sys.stderr)
                return FAILED
    except AnswerError as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT


def _api_url() -> str:
    """The server to talk to; without one Prefect would start a temporary server of its own, holding no review."""
    from prefect.settings import get_current_settings

    from client.redaction import hide_url_secrets

    url = get_current_settings().api.url
    if not url:
        raise AnswerError("PREFECT_API_URL is not set: point it at the Prefect server the reviews run on, e.g. "
                          "export PREFECT_API_URL=http://127.0.0.1:4200/api")
    return hide_url_secrets(url)


# -- list ----------------------------------------------------------------------------------------------------
def _list(api, args) -> int:
    deadline = time.monotonic() + args.wait
    while True:
        try:
            reviews = [find_review(api, args.run_id)] if args.run_id else paused_reviews(api)
        except AnswerError:
            if time.monotonic() >= deadline:
                raise
            reviews = []
        if reviews or time.monotonic() >= deadline:
            break
        time.sleep(1)
    missing = FAILED if args.wait and not reviews else 0  # waited for one in vain
    if args.json:
        print(json.dumps([_as_json(r) for r in reviews], indent=2))
        return missing
    if not reviews:
        print(f"No review paused for a decision within {args.wait:g} s." if args.wait else
              "No review is paused for a decision.")
        return missing
    for review in reviews:
        count = len(review.letters)
        print(f"{review.label}: {count} dead letter{'s wait' if count != 1 else ' waits'} for a decision")
        print(_table([{"id": str(x.id), "operation": x.operation, "target": x.target, "error": x.error,
                       "since": x.since} for x in review.letters], indent="  "))
    run = "" if len(reviews) == 1 else "RUN_ID "
    print(f"\nAnswer with: {COMMAND} answer {run}--reviewer NAME --retry ID... --discard ID... "
          "--retry-with-edits ID=@corrected.json (or --all ACTION; letters not named stay pending)")
    return 0


def _as_json(review: Review) -> dict[str, Any]:
    return {"run_id": str(review.run_id), "name": review.name,
            "dead_letters": [{"id": x.id, "operation": x.operation, "target": x.target, "error": x.error,
                              "since": x.since} for x in review.letters]}


# -- answer --------------------------------------------------------------------------------------------------
def _answer(api, args) -> int:
    choices = choices_from(args)  # bad input is refused before the server is even asked
    review = find_review(api, args.run_id)
    answer = answer_for(review, choices)
    if args.dry_run:
        print(json.dumps(answer, indent=2))
        return 0
    send(review, answer)
    decided = [d for d in answer["decisions"] if d["action"] != "leave"]
    print(f"Sent to {review.label} as {answer['reviewer']}: "
          + ", ".join(f"{d['action']} {d['dead_letter_id']}" for d in decided)
          + (f"; {len(answer['decisions']) - len(decided)} left pending" if len(decided) < len(answer["decisions"])
             else ""))
    if args.no_wait:
        return 0
    run = _wait_until_over(api, review, args.timeout)
    if run is None:
        print(f"{review.label} has not ended within {args.timeout:g} s; its outcome will be in the UI")
        return FAILED
    print(f"The review ended {run.state.name}: {run.state.message or ''}".rstrip(": "))
    outcomes = table_artifact(api, review.run_id, OUTCOME_ARTIFACT)
    if outcomes:
        print(_table(outcomes, indent="  "))
    return 0 if run.state.type.value == "COMPLETED" else FAILED


def _wait_until_over(api, review: Review, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.read_flow_run(review.run_id)
        if run.state and run.state.type.value in TERMINAL:
            return run
        time.sleep(1)
    return None


def choices_from(args: argparse.Namespace) -> Choices:
    """The parsed `answer` options as Choices; malformed ids, notes and corrected inputs are AnswerErrors."""
    choices = Choices(reviewer=args.reviewer, rest=args.all)
    for flag, action in (("--retry", "retry"), ("--discard", "discard"), ("--leave", "leave")):
        choices.actions += [(_letter_id(text, flag), action) for text in getattr(args, action)]
    for text in args.retry_with_edits:
        letter_id, value = _id_and_value(text, "--retry-with-edits", "JSON")
        choices.actions.append((letter_id, "retry_with_edits"))
        choices.payloads[letter_id] = _payload(letter_id, value)
    for text in args.note:
        letter_id, note = _id_and_value(text, "--note", "TEXT")
        choices.notes[letter_id] = note
    return choices


def _letter_id(text: str, flag: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        pass
    if _is_uuid(text):  # `--retry 7 RUN_ID`: the option took the run id as one more letter
        raise AnswerError(f"{flag} {text}: that is a run id; give it first: answer RUN_ID --reviewer NAME ...")
    raise AnswerError(f"{flag} {text[:40]!r}: a dead letter's id is a number (the first column of `list`)")


def _is_uuid(text: str) -> bool:
    try:
        UUID(text.strip())
    except ValueError:
        return False
    return True


def _id_and_value(text: str, flag: str, what: str) -> tuple[int, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise AnswerError(f"{flag} expects ID={what}, e.g. {flag} 7={'@corrected.json' if what == 'JSON' else 'why'}")
    return _letter_id(key, flag), value


def _payload(letter_id: int, text: str) -> Any:
    """The corrected inputs: JSON text, or @FILE holding it; a JSON object (the review refuses anything else)."""
    where = f"--retry-with-edits {letter_id}"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise AnswerError(f"{where}: cannot read {path} ({getattr(error, 'strerror', None) or error})") from None
    try:
        value = json.loads(text)
    except ValueError as error:  # the message says where, never what: the inputs may be a record's data
        raise AnswerError(f"{where}: the corrected inputs are not JSON ({error}); give a JSON object or "
                          "@file.json") from None
    if not isinstance(value, dict):
        raise AnswerError(f"{where}: the corrected inputs must be a JSON object (the corrected record, request "
                          f"body or {{\"composite_id\": ...}}), not {type(value).__name__}")
    return value


def _table(rows: list[dict[str, Any]], indent: str = "") -> str:
    columns = list(rows[0]) if rows else []
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = [[c for c in columns], *[[str(r.get(c, "")) for c in columns] for r in rows]]
    return "\n".join(indent + "  ".join(v.ljust(widths[c]) for c, v in zip(columns, line, strict=True)).rstrip()
                     for line in lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Answer a paused review-failed-operations run "
                                     "from a shell, as the Resume form in the Prefect UI does.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the paused reviews and the dead letters each offers")
    listing.add_argument("run_id", nargs="?", metavar="RUN_ID", help="one review's flow run id (default: all)")
    listing.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                         help="wait this long for a review to pause (it starts a few seconds after a failure)")
    listing.add_argument("--json", action="store_true", help="print the reviews and their letters as JSON")

    answer = commands.add_parser("answer", help="send decisions to a paused review and print their outcomes")
    answer.add_argument("run_id", nargs="?", metavar="RUN_ID",
                        help="the review's flow run id (default: the only paused review)")
    answer.add_argument("--reviewer", required=True, help="who decides (recorded on each dead letter)")
    for action, text in (("retry", "carry these letters' operations out again, as they were"),
                         ("discard", "give these letters up (recorded as discarded)"),
                         ("leave", "keep these letters pending (what a letter not named gets)")):
        answer.add_argument(f"--{action}", nargs="+", action="extend", default=[], metavar="ID", help=text)
    answer.add_argument("--retry-with-edits", action="append", default=[], metavar="ID=JSON|ID=@FILE",
                        help="retry this letter with corrected inputs: the corrected record, request body or "
                             '{"composite_id": ...}, as a JSON object')
    answer.add_argument("--note", action="append", default=[], metavar="ID=TEXT", help="why, for the record")
    answer.add_argument("--all", choices=[a for a in ACTIONS if a != "retry_with_edits"], metavar="ACTION",
                        help="the action for every offered letter not named: leave, retry or discard")
    answer.add_argument("--dry-run", action="store_true", help="print the answer (the review's pause input) "
                        "as JSON instead of sending it")
    answer.add_argument("--no-wait", action="store_true", help="send and return; do not wait for the outcomes")
    answer.add_argument("--timeout", type=float, default=300, metavar="SECONDS",
                        help="how long to wait for the review to carry the decisions out (300)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
