"""create_contracts: contracts created in SpotDraft from upstream records, at most once each.

Idempotent by the record's `external_id`, sent as `external_metadata.id`: a record already in
`created_contracts` is skipped, and any other is looked up in SpotDraft before it is created, so a
second run (or a run after a crash that lost the local row) creates nothing new. An ambiguous
failure of the create itself is reconciled by the same look-up before any second POST
(client.writes). Each record is written by one run at a time (a lease in the shared database,
store.leases), so two runs on the same records cannot both create it. Bad records are refused
before any request and become dead letters, as does anything else about one record; the rest go on.
With `send_to_counterparties`, a contract is sent once it is recorded; one found already in SpotDraft,
or recorded earlier but not marked sent (a killed run, a failed send), is sent only while SpotDraft
still has it in DRAFT: any later status means it went out, and it is never sent twice.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import sqlalchemy as sa
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from pydantic import Field

import tasks
from blocks import SpotDraftCredentials
from client import SpotDraftError, writes
from flows.common import (
    composite_id_of,
    data_flow,
    database_url_or_default,
    finished,
)
from flows.params import JsonList, OptionalText, database_url_form, form
from flows.records import RecordError, load_records, validate_record
from flows.replays import exact_inputs, leased, replays
from store import created_contracts, dead_lettering, engine_for, fit_row, leases, upsert, utcnow

BATCH_SIZE = 50
SEND_BODY = {"attachment_formats": ["PDF"]}  # what the counterparties receive: the contract as a PDF
DRAFT = "DRAFT"  # ContractDisplayStatusEnum: a contract not yet sent out


class RecordBusy(Exception):
    """A record another run was writing, not recorded by it when this run ended."""


def record_created(conn, *, external_id: str, contract: dict[str, Any], template_id: int | None,
                   outcome: str) -> None:
    """Keep SpotDraft's contract for an external id, and close the create's dead letter: it is done."""
    row, _ = fit_row(created_contracts, {
        "external_id": external_id, "contract_id": str(contract["id"]), "template_id": template_id,
        "contract_name": contract.get("contract_name"), "outcome": outcome, "record": contract,
        "flow_run_id": dead_lettering.current_flow_run()[1], "created_at": utcnow(),
    })
    upsert(conn, created_contracts, [row])
    dead_lettering.resolve(conn, operation="create_contract", targets=[external_id],
                         outcome={"resolved_by": outcome, "contract_id": str(contract["id"])})


def _recorded(engine, external_id: str) -> sa.Row | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(created_contracts).where(created_contracts.c.external_id == external_id)
        ).first()


@task(name="create-contracts-batch", task_run_name="create contracts {first}..{last}", cache_policy=NO_CACHE)
def create_contracts_batch(
    credentials: SpotDraftCredentials, database_url: str, template_id: int, items: list[dict[str, Any]],
    first: int, last: int, send_to_counterparties: bool, concurrency: int,
) -> dict[str, int]:
    """Create (or find) the contract of each record of a batch; record each outcome as it happens."""
    logger = get_run_logger()
    client = credentials.get_client()
    engine = engine_for(database_url)
    holder = leases.holder_id()
    counts = {"created": 0, "found": 0, "already_recorded": 0, "dead_lettered": 0, "left_to_another_run": 0}

    def not_sent(external_id: str, composite_id: str, error: SpotDraftError) -> list[str]:
        """Created but not sent: its own dead letter, replayable alone (the review checks DRAFT first)."""
        logger.warning("Contract %s (%s) was created but not sent: %s", composite_id, external_id, error)
        with engine.begin() as conn:
            dead_lettering.record(conn, operation="send_contract_to_counterparties", target=composite_id,
                                inputs={"composite_id": composite_id, "body": SEND_BODY}, error=error)
        return ["dead_lettered"]

    def send(external_id: str, contract: dict[str, Any]) -> list[str]:
        composite_id = composite_id_of(contract)
        try:
            client.call("send_contract_to_counterparties", path_params={"composite_id": composite_id},
                        body=SEND_BODY, logger=logger)
        except SpotDraftError as error:
            return not_sent(external_id, composite_id, error)
        with engine.begin() as conn:
            conn.execute(created_contracts.update().where(created_contracts.c.external_id == external_id)
                         .values(sent_at=utcnow()))
            dead_lettering.resolve(conn, operation="send_contract_to_counterparties", targets=[composite_id],
                                 outcome={"resolved_by": "create_contracts"})
        return []

    def send_if_still_draft(external_id: str, contract: dict[str, Any]) -> list[str]:
        composite_id = composite_id_of(contract)
        try:
            status = client.call("get_contract_status", path_params={"composite_id": composite_id}, logger=logger)
        except SpotDraftError as error:  # unknown whether it went out: not sent now, and not forgotten
            return not_sent(external_id, composite_id, error)
        if isinstance(status, dict) and status.get("contract_status") == DRAFT:
            return send(external_id, contract)
        # Out of DRAFT: it went out (a send that landed despite its error, or one made by hand).
        with engine.begin() as conn:
            conn.execute(created_contracts.update().where(created_contracts.c.external_id == external_id)
                         .values(sent_at=utcnow()))
            dead_lettering.resolve(conn, operation="send_contract_to_counterparties", targets=[composite_id],
                                 outcome={"resolved_by": "create_contracts", "status": status.get("contract_status")
                                          if isinstance(status, dict) else None})
        return []

    def one(item: dict[str, Any]) -> list[str]:
        """One record, written by this run alone (see store.leases); anything about it is its dead letter."""
        external_id = item["external_id"]
        with leases.lease(engine, leases.create_key(external_id), holder) as held:
            if not held:  # another run (or a review) is creating or sending it right now: its job
                logger.info("Record %s is being written by another run; left to it", external_id)
                return ["left_to_another_run"]
            try:
                return create_and_send(item)
            except Exception as error:  # an answer we cannot store, a bug: this record's, not the run's
                logger.warning("Dead-lettered record %s: %s", external_id, error)
                with engine.begin() as conn:
                    dead_lettering.record(conn, operation="create_contract", target=external_id,
                                        inputs={"template_id": template_id, "body": item["body"]}, error=error)
                return ["dead_lettered"]

    def create_and_send(item: dict[str, Any]) -> list[str]:
        external_id, body = item["external_id"], item["body"]
        row = _recorded(engine, external_id)  # read under the lease: what an earlier run recorded
        if row is not None:
            with engine.begin() as conn:  # recorded: a letter left by a run that raced the recording is done
                dead_lettering.resolve(conn, operation="create_contract", targets=[external_id],
                                     outcome={"resolved_by": "already recorded", "contract_id": row.contract_id})
            # Recorded but not marked sent (a run killed before sending, a send that failed or was
            # made by hand): sent now only if SpotDraft still has it in DRAFT, so never twice.
            if send_to_counterparties and row.sent_at is None:
                return ["already_recorded", *send_if_still_draft(external_id, row.record)]
            return ["already_recorded"]
        # Looks the external id up first: an earlier run, attempt or person may have created it.
        contract, created = writes.create_or_find(client, body, logger=logger)
        outcome = "created" if created else "found"
        with engine.begin() as conn:  # recorded before anything else can fail: the contract exists now
            record_created(conn, external_id=external_id, contract=contract, template_id=template_id,
                           outcome=outcome)
        # One found in SpotDraft is sent only while still in DRAFT: most likely this flow created it in
        # a run that died before recording and sending it; any later status means it went out.
        unsent = created or contract.get("contract_status") == DRAFT
        return [outcome, *(send(external_id, contract) if send_to_counterparties and unsent else [])]

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        outcomes = list(pool.map(one, items))
    for item, item_outcomes in zip(items, outcomes, strict=True):
        for outcome in item_outcomes:
            counts[outcome] += 1
        if "left_to_another_run" in item_outcomes and _recorded(engine, item["external_id"]) is None:
            # The other writer has not recorded it (still at work, or killed): a letter keeps it from being
            # lost; that writer's success closes it, and a retry waits for its lease to end.
            external_id = item["external_id"]
            busy = RecordBusy(f"record {external_id} was held by another run "
                              f"({leases.describe(engine, leases.create_key(external_id))}) and not recorded "
                              "when this run ended")
            with engine.begin() as conn:
                dead_lettering.record(conn, operation="create_contract", target=external_id,
                                    inputs={"template_id": template_id, "body": item["body"]}, error=busy)
            counts["dead_lettered"] += 1
    return counts


def _refused_target(error: RecordError, index: int, repeated: bool, flow_run_id: str | None) -> str:
    """The target of a record refused before any request: its external id, which a later success of that
    id closes; but a repeat of an id is its own letter (the first record's success says nothing about
    the repeat's data), and a record without an id is named by its place in this run, not in any run."""
    if error.external_id and not repeated:
        return error.external_id
    place = f"record {index}" + (f" of run {flow_run_id}" if flow_run_id else "")
    return f"{error.external_id} (repeated at {place})" if error.external_id else place


def _run_name(params: dict[str, Any]) -> str:
    source = params.get("records_file") or f"{len(params.get('records') or [])} inline records"
    return f"create-contracts template {params.get('template_id')} from {source}"


@data_flow("create-contracts", run_name=_run_name)
def create_contracts(
    credentials: SpotDraftCredentials = form(
        "SpotDraft credentials", "The credentials Block of the workspace to create contracts in."
    ),
    template_id: Annotated[int, Field(ge=1)] = form(
        "Template id", "The SpotDraft template every contract is created from."
    ),
    records: JsonList = form(
        "Records",
        'A JSON list of records, pasted whole: [{"external_id": "crm-1", "contract_data": {...}, '
        '"counter_party_details": [...]}, ...]; contract_name is optional. Leave empty when using a records file.',
        None,
    ),
    records_file: OptionalText = form(
        "Records file",
        "Path of a .json or .csv file of records, readable by the worker (see the README for the CSV columns).",
        None, shown_default="",
    ),
    database_url: OptionalText = database_url_form(
        "SQLAlchemy URL where created_contracts and dead_letters are kept."
    ),
    send_to_counterparties: bool = form(
        "Send to counterparties", "Send each newly created contract out to its counterparties.", False
    ),
    concurrency: Annotated[int, Field(ge=1, le=16)] = form("Concurrent creates", "Creates in flight at once.", 4),
):
    """Create SpotDraft contracts from upstream records, once per external id, recording SpotDraft's ids."""
    logger = get_run_logger()
    started = time.monotonic()
    database_url = database_url_or_default(database_url)
    engine = engine_for(database_url)
    raw = load_records(records, records_file)
    valid: list[dict[str, Any]] = []
    refused = 0
    seen: set[str] = set()
    this_run = dead_lettering.current_flow_run()[1]
    for index, item in enumerate(raw):
        repeated = False
        try:
            record, body = validate_record(item, index, template_id)
            if record.external_id in seen:
                repeated = True
                raise RecordError(index, record.external_id, "external_id repeats an earlier record")
            seen.add(record.external_id)
            valid.append({"external_id": record.external_id, "body": body})
        except RecordError as error:
            refused += 1
            logger.warning("Refused %s", error)
            with engine.begin() as conn:
                dead_lettering.record(conn, operation="create_contract", target=_refused_target(error, index, repeated,
                                                                                              this_run),
                                    inputs={"template_id": template_id, "record": item}, error=error)
    logger.info("%d records: %d valid, %d refused before any request", len(raw), len(valid), refused)

    totals = {"created": 0, "found": 0, "already_recorded": 0, "dead_lettered": refused, "left_to_another_run": 0}
    for start in range(0, len(valid), BATCH_SIZE):
        batch = valid[start:start + BATCH_SIZE]
        counts = create_contracts_batch(credentials, database_url, template_id, batch, start,
                                        start + len(batch) - 1, send_to_counterparties, concurrency)
        for key, value in counts.items():
            totals[key] += value

    summary = {"records": len(raw), **totals, "duration_s": round(time.monotonic() - started, 2)}
    create_table_artifact(
        key="create-contracts-summary",
        table=[{"metric": k, "value": str(v)} for k, v in summary.items()],
        description="What this run created, found already there, and gave up on",
    )
    message = f"created {totals['created']}, found {totals['found'] + totals['already_recorded']} already there"
    if totals["left_to_another_run"]:
        message += f", {totals['left_to_another_run']} left to another run writing them at the same time"
    return finished(message, summary, totals["dead_lettered"])


# -- how the review retries this flow's dead letters (flows.replays) ------------------------------

@replays("create_contract")
def _replay_create(credentials, database_url, inputs, payload) -> dict[str, Any]:
    template_id = int((payload or {}).get("template_id") or inputs["template_id"])
    if "record" in inputs or (payload and "external_id" in payload):
        record = payload if payload is not None else exact_inputs(inputs, None)["record"]
        _, body = validate_record(record, 0, template_id)
    else:
        body = exact_inputs(inputs["body"], payload)
    external_id = writes.external_id_of(body)
    if external_id is None:  # without it a create cannot be looked up first, nor recorded against its record
        raise ValueError("the body has no external_metadata.id; add the upstream record's id")
    engine = engine_for(database_url)
    with leased(engine, leases.create_key(external_id)):
        contract = tasks.create_contract(credentials, body)  # looks the external id up before any POST
        with engine.begin() as conn:  # the template the body sent: an edit may have changed it
            record_created(conn, external_id=external_id, contract=contract,
                           template_id=_template_sent(body, template_id), outcome="created by review")
    return {"contract_id": str(contract.get("id")), "external_id": external_id}


def _template_sent(body: dict[str, Any], default: int) -> int:
    sent = body.get("contract_template_id")
    return sent if isinstance(sent, int) and not isinstance(sent, bool) else default


@replays("send_contract_to_counterparties")
def _replay_send(credentials, database_url, inputs, payload) -> dict[str, Any]:
    composite_id = (payload or inputs)["composite_id"]
    body = (payload or {}).get("body") or exact_inputs(inputs, None)["body"]
    engine = engine_for(database_url)
    ids = [composite_id, composite_id.split("-")[-1]]
    with engine.connect() as conn:  # the record it was created for: a create run sends under the same lease
        external_id = conn.execute(sa.select(created_contracts.c.external_id)
                                   .where(created_contracts.c.contract_id.in_(ids))).scalar()
    with leased(engine, leases.create_key(external_id) if external_id else f"send:{composite_id}"):
        # Sending is not safe to repeat: a send that landed despite its error (or one made since)
        # has taken the contract out of DRAFT, and is not sent again.
        status = tasks.get_contract_status(credentials, composite_id).get("contract_status")
        if status == DRAFT:
            tasks.send_contract_to_counterparties(credentials, composite_id, body)
        with engine.begin() as conn:  # either way it went out: create_contracts must not send again
            conn.execute(created_contracts.update().where(created_contracts.c.contract_id.in_(ids))
                         .values(sent_at=utcnow()))
    return {"composite_id": composite_id, "sent": status == DRAFT, "status_before": status}
