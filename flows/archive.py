"""archive_contracts: every executed contract's file in the user's own storage, incremental and verified.

A pass lists the contracts in `statuses` (SpotDraft's `filter__display_status[$in]`) changed since the
previous complete pass's start, less an overlap, and archives each one's current version unless this
storage already has it (store.archive, flows.archive_documents): one task run per page of the list, the
page's files on `concurrency` threads. The watermark moves only after a pass whose list stayed still (the
same total on every page) and left no contract to another run; otherwise the next pass reads from where
this one did. A write a killed run left is finished (or undone) by the next run, listed or not. With
`contract_id` a run archives that contract alone: what a webhook event starts.
"""

from __future__ import annotations

import contextvars
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Annotated, Any, Literal

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from pydantic import Field

from blocks import SpotDraftCredentials
from client import errors as E
from client.contract_ids import CONTRACT_ID, contract_key
from client.models import EditableDocumentDownloadFormat
from flows.archive_documents import ALREADY, ARCHIVED, FAILED, LEFT, SKIPPED, Job, Outcome, archive_contract
from flows.archive_paths import DEFAULT_TEMPLATE, check_template
from flows.archive_storage import ArchiveStorage, StorageBlock
from flows.common import (
    composite_id_of,
    data_flow,
    database_url_or_default,
    emit_dead_letters,
    finished,
    shown_database_url,
)
from flows.params import OptionalText, credentials_form, database_url_form, form
from flows.replays import exact_inputs, replays
from flows.sync_contract import listed_records
from flows.sync_pages import _window, has_id
from store import archive, dead_lettering, engine_for, leases, utcnow

OPERATION = "archive_contract"  # a contract's dead letters: the review replays them with archive_contracts
PASS_OPERATION = "archive_contracts"  # a pass whose list could not be read
ContractStatus = Literal["DRAFT", "REDLINING", "SIGN", "EXECUTED", "ON_HOLD", "VOIDED"]  # display_status
OVERLAP = timedelta(minutes=10)  # room for SpotDraft's clock being behind ours (see store/sync_passes.py)
WAIT_FOR_OTHER_RUN_SECONDS = 120.0  # a run for one contract waits this long for another run archiving it


class ArchiveFailed(Exception):
    """A replayed archive of one contract failed again (its run refreshed the dead letter)."""


def _run_name(parameters: dict[str, Any]) -> str:
    one = parameters.get("contract_id")
    return f"archive-contracts {str(one)[:40]}" if one else f"archive-contracts {utcnow():%Y-%m-%d %H:%M}"


@task(name="archive-contracts-page", task_run_name="archive page {page}", cache_policy=NO_CACHE,
      persist_result=False)
def archive_page(job: Job, page: int, contract_ids: list[str], concurrency: int) -> list[Outcome]:
    """Archive the contracts of one page of the list (and writes left by a killed run), `concurrency` at once."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="archive") as pool:
        # Each in a copy of this task run's context: what the threads log (httpx's request lines too) is the run's.
        futures = [pool.submit(contextvars.copy_context().run, archive_contract, job, contract_id)
                   for contract_id in contract_ids]
        outcomes = [future.result() for future in futures]
    _settle(job, outcomes)
    return outcomes


@data_flow("archive-contracts", run_name=_run_name)
def archive_contracts(
    credentials: SpotDraftCredentials = credentials_form(),
    storage: StorageBlock = form(
        "Storage", "Where the files go: a Local File System or Remote File System block (s3://, gs://, az://, ...).",
    ),
    database_url: OptionalText = database_url_form(
        "SQLAlchemy URL of the database that records what is archived (table archived_documents).",
    ),
    statuses: list[ContractStatus] = form(
        "Statuses", "Archive the contracts in these statuses (SpotDraft's display status).", ["EXECUTED"]),
    format: EditableDocumentDownloadFormat = form(
        "Format", "PDF, DOCX, or DOCX with a fallback to PDF when a contract has no DOCX.", "PDF"),
    path_template: str = form(
        "Path template",
        "Each file's path under the storage's base path, from {contract_id} (T-123), {version_id}, {file_name} "
        "and {format}; it must hold {contract_id} and {version_id}, so versions never overwrite one another.",
        DEFAULT_TEMPLATE,
    ),
    contract_id: OptionalText = form(
        "Contract id", "Archive this contract alone (123, T-123 or H-123), as the webhook trigger does; empty: every "
        "contract changed since the last pass.", None, shown_default=""),
    full: bool = form("Check every contract", "Ask for every contract's current version, not only those changed "
                      "since the last pass.", False),
    concurrency: Annotated[int, Field(ge=1, le=16)] = form(
        "Concurrent files", "Files downloaded and written at once (1-16).", 4),
    page_size: Annotated[int, Field(ge=1, le=100)] = form("Page size", "Contracts per page, and task run (1-100).",
                                                          50),
):
    """Copy each contract's current file (per version, once) into a Prefect storage block, verified."""
    logger = get_run_logger()
    started = time.monotonic()
    check_template(path_template)
    wanted = list(dict.fromkeys(statuses))
    if not wanted:
        raise ValueError("statuses is empty: give at least one, e.g. EXECUTED")
    one = (contract_id or "").strip() or None
    if one is not None and not CONTRACT_ID.fullmatch(one):
        raise ValueError(f"contract_id must look like 123, T-123 or H-123, not {one[:40]!r}")
    database_url = database_url_or_default(database_url)
    engine = engine_for(database_url)
    job = Job(credentials.get_client(), engine, ArchiveStorage(storage), format, path_template, tuple(wanted),
              leases.holder_id(), logger)
    if not archive.holds_any(engine, job.storage.location):  # a storage new to the archive: can it hold a file?
        job.storage.check_writable()  # (not on every run: a versioned or locked bucket keeps what is written)
    logger.info("Archiving %s as %s into %s", one or f"contracts in {', '.join(wanted)}", format, job.storage.location)

    if one is not None:
        outcomes, pass_note = _archive_one(job, one), "one contract"
    else:
        outcomes, pass_note = _archive_listed(job, full, concurrency, page_size)
    summary = _summary(job, outcomes, pass_note, database_url, time.monotonic() - started)
    create_table_artifact(key="archive-contracts-summary", table=[
        {"metric": k, "value": str(v)} for k, v in summary.items() if k != "failures"],
        description="What this archive run wrote, found already there, and gave up on")
    message = (f"archived {summary['archived']} files ({summary['bytes']} bytes), {summary['already_archived']} "
               f"already there, into {job.storage.location}")
    return finished(message, summary, summary["failed"])


def _archive_one(job: Job, contract_id: str) -> list[Outcome]:
    """One contract, if its status is one of the job's; a run archiving it already is waited for."""
    records = listed_records(job.client, contract_key(contract_id), job.logger)
    record = records[0] if records else None
    composite = composite_id_of(record) if has_id(record) else contract_id
    if record is None or record.get("contract_status") not in job.statuses:
        shown = "not in SpotDraft's list" if record is None else f"status {record.get('contract_status')}"
        job.logger.info("Contract %s is %s: nothing to archive", composite, shown)
        outcomes = [Outcome(composite, SKIPPED)]
    else:
        outcomes = [archive_contract(job, composite, wait_seconds=WAIT_FOR_OTHER_RUN_SECONDS)]
    _settle(job, outcomes)
    return outcomes


def _archive_listed(job: Job, full: bool, concurrency: int, page_size: int) -> tuple[list[Outcome], str]:
    """Every contract in the job's statuses changed since the watermark (all with `full`), page by page."""
    statuses = list(job.statuses)
    name = f"{job.storage.location} {job.format} {','.join(sorted(statuses))}"
    since = None if full else archive.watermark(job.engine, name)
    until = utcnow()
    query = {"filter__display_status[$in]": ",".join(statuses),
             **_window(None if since is None else since - OVERLAP, until)}
    left = sorted({w["contract_id"] for w in archive.writes_left(job.engine, job.storage.location)})
    outcomes: list[Outcome] = []
    if left:
        job.logger.info("Finishing %d write(s) a killed run left", len(left))
        outcomes += archive_page(job, 0, left, concurrency)
    totals: set[int] = set()
    seen = set(left)
    try:
        for number, answer in enumerate(job.client.iter_pages("list_contracts", limit=page_size, query=query,
                                                              logger=job.logger), start=1):
            totals.add(answer["total_results"])
            records = answer["results"]
            outcomes += _unnamed(job, name, number, [r for r in records if not has_id(r)])
            # Each contract once per pass: a list may name one twice (a page that shifted, a record that lies), and
            # the run's threads share its lease, so two copies would be archived at once, over one another.
            ids = [i for i in dict.fromkeys(composite_id_of(r) for r in records if has_id(r)) if i not in seen]
            seen.update(ids)
            outcomes += archive_page(job, number, ids, concurrency)
    except Exception as error:  # the list itself failed (after retries): this pass's letter; the next run resumes
        with job.engine.begin() as conn:
            dead_lettering.record(conn, operation=PASS_OPERATION, target=f"archive pass {name}",
                                  inputs={"statuses": statuses, "since": since.isoformat() if since else None},
                                  error=error)
        emit_dead_letters(1)
        raise
    still = len(totals) <= 1 and not any(o.status == LEFT for o in outcomes)
    if still:
        archive.move_watermark(job.engine, name, until)
    kind = "full" if since is None else f"since {since:%Y-%m-%d %H:%M:%S}"
    kept = "kept: the list changed meanwhile, or a contract was left to another run"
    return outcomes, f"{kind}; watermark {'moved' if still else kept}"


def _unnamed(job: Job, name: str, page: int, records: list[Any]) -> list[Outcome]:
    """Records the list gave without a usable id: no link can be asked for them, so each is a dead letter of the
    pass (with the record, to find the contract by), never a contract skipped in silence."""
    outcomes = []
    with job.engine.begin() as conn:
        for index, record in enumerate(records, start=1):
            target = f"archive pass {name} page {page} record {index}"
            error = E.MalformedResponseError(f"{target} has no usable id; its contract could not be archived")
            job.logger.warning("Dead-lettered %s: it has no usable id", target)
            dead_lettering.record(conn, operation=PASS_OPERATION, target=target, inputs={"record": record},
                                  error=error)
            outcomes.append(Outcome(target, FAILED, error=error))
    return outcomes


def _settle(job: Job, outcomes: list[Outcome]) -> None:
    """Each failure is its contract's dead letter; a success closes a letter an earlier run left."""
    with job.engine.begin() as conn:
        for outcome in outcomes:
            target = job.target(outcome.contract_id)
            if outcome.status == FAILED:
                job.logger.warning("Dead-lettered %s: %s", target, outcome.error)
                dead_lettering.record(conn, operation=OPERATION, target=target, inputs=_inputs(job, outcome),
                                      error=outcome.error or ArchiveFailed("failed"))
            elif outcome.status in (ARCHIVED, ALREADY, SKIPPED):
                dead_lettering.resolve(conn, operation=OPERATION, targets=[target],
                                       outcome={"resolved_by": "archive_contracts", "status": outcome.status})


def _inputs(job: Job, outcome: Outcome) -> dict[str, Any]:
    """What the review's retry needs to archive the contract again (the storage by name or place, never its
    settings, which may hold keys)."""
    return {"contract_id": outcome.contract_id, "format": job.format, "path_template": job.path_template,
            "statuses": list(job.statuses), "storage": job.storage.location, "storage_block": job.storage.block_name}


def _summary(job: Job, outcomes: list[Outcome], pass_note: str, database_url: str, seconds: float) -> dict[str, Any]:
    count = {status: sum(o.status == status for o in outcomes) for status in (ARCHIVED, ALREADY, FAILED, LEFT,
                                                                              SKIPPED)}
    return {
        "archived": count[ARCHIVED], "already_archived": count[ALREADY], "failed": count[FAILED],
        "left_to_another_run": count[LEFT], "skipped": count[SKIPPED],
        "bytes": sum(o.bytes for o in outcomes if o.status == ARCHIVED),
        "finished_from_killed_runs": sum(o.finished_left for o in outcomes),
        "pass": pass_note, "storage": job.storage.location, "database": shown_database_url(database_url),
        "duration_s": round(seconds, 2),
        "failures": [f"{o.contract_id}: {type(o.error).__name__}" for o in outcomes if o.status == FAILED][:20],
    }


# -- how the review retries this flow's dead letters (flows.replays) ------------------------------

@replays(OPERATION)
def _replay_archive(credentials, database_url, inputs, payload) -> dict[str, Any]:
    given = exact_inputs(inputs, payload)
    state = archive_contracts(credentials, _storage_of(given), database_url=database_url,
                              statuses=given["statuses"], format=given["format"],
                              path_template=given["path_template"], contract_id=given["contract_id"],
                              return_state=True)
    summary = state.result()  # a run that failed raises: the letter failed again
    if summary["failed"]:
        raise ArchiveFailed(f"{given['contract_id']} failed again: {'; '.join(summary['failures'])}")
    return {key: summary[key] for key in ("archived", "already_archived", "bytes", "storage")}


@replays(PASS_OPERATION)
def _replay_pass(credentials, database_url, inputs, payload) -> dict[str, Any]:
    raise ValueError("a pass's list failed, or listed a contract without its id: run archive_contracts again (its "
                     "deployment, or with contract_id) with the same storage; then discard this letter")


def _storage_of(inputs: dict[str, Any]) -> Any:
    """The storage block of a letter: loaded by its document name, or rebuilt from its place (no settings:
    credentials then come from the worker's environment, as s3fs reads AWS_ACCESS_KEY_ID)."""
    from urllib.parse import unquote, urlsplit

    from prefect.blocks.core import Block
    from prefect.filesystems import LocalFileSystem, RemoteFileSystem

    if inputs.get("storage_block"):
        return Block.load(inputs["storage_block"])
    location = str(inputs.get("storage") or "")
    if location.startswith("file://"):
        return LocalFileSystem(basepath=unquote(urlsplit(location).path))
    if "://" not in location:
        raise ValueError("the letter names no storage: retry_with_edits with \"storage_block\": \"<type>/<name>\"")
    return RemoteFileSystem(basepath=location)
