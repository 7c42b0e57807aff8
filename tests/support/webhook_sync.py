"""The sync worker's tests' tools: a receiver with its worker in this process, signed deliveries to it, and what the
syncs left behind (a contract's stored name, the sync-contract runs the Prefect API has, the outbox settled)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime

import httpx
import sqlalchemy as sa

from store import contracts, engine_for
from tests.support.flaky_proxy import FlakyProxy
from tests.support.serving import serving
from tests.support.webhook_sinks import RecordingSink, outbox_rows
from webhooks.receiver import create_app
from webhooks.signature import SIGNATURE_HEADER
from webhooks.sync_worker import SyncWorker

KEY = b"sync-worker-test-key-0a8f3c"


@contextlib.contextmanager
def receiver(database_url: str, worker: SyncWorker | None) -> Iterator[str]:
    """The receiver under uvicorn in a thread, with `worker` started and stopped by its lifespan; yields its URL."""
    app = create_app(KEY, database_url=database_url, sink=RecordingSink(), sync_worker=worker)
    with serving(app, log_level="critical") as port:
        yield f"http://127.0.0.1:{port}/spotdraft/webhooks"


def deliver(url: str, contract_id: int, activity: str = "CONTRACT_DATA_UPDATED", **fields) -> None:
    body = json.dumps({"contract_id": contract_id, "activity": activity, **fields}).encode()
    answer = httpx.post(url, content=body, timeout=30,
                        headers={SIGNATURE_HEADER: hmac.new(KEY, body, hashlib.sha512).hexdigest()})
    assert answer.status_code == 202, answer.text


def name_of(database_url: str, composite_id: str) -> str | None:
    with engine_for(database_url).connect() as conn:
        return conn.execute(sa.select(contracts.c.contract_name)
                            .where(contracts.c.composite_id == composite_id)).scalar()


def runs_since(began: datetime) -> dict[str, list]:
    """The sync-contract runs created since `began`, by the contract id they were given."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async def read():
        async with get_client() as client:
            return await client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["sync-contract"])),
                                               limit=200)

    found: dict[str, list] = {}
    for run in asyncio.run(read()):
        if run.created and run.created >= began:
            found.setdefault(str(run.parameters["contract_id"]), []).append(run)
    return found


def settled(database_url: str) -> bool:
    return all(row["settled_at"] is not None for row in outbox_rows(database_url))


@contextlib.contextmanager
def prefect_api_through_proxy() -> Iterator[FlakyProxy]:
    """The Prefect API, for every thread of this process (the sync worker's included), reached through a proxy
    that can be told to answer 503; the client gives up at the first failure instead of retrying for a minute."""
    from urllib.parse import urlsplit

    from prefect.context import SettingsContext, _temporary_global_settings_context, get_settings_context
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES

    context = get_settings_context()
    with FlakyProxy(urlsplit(PREFECT_API_URL.value()).port).running() as proxy:
        settings = context.settings.copy_with_update(updates={PREFECT_API_URL: proxy.api_url,
                                                              PREFECT_CLIENT_MAX_RETRIES: 0})
        with _temporary_global_settings_context(SettingsContext(profile=context.profile, settings=settings)):
            try:
                yield proxy
            finally:  # Prefect's log and event senders, made meanwhile, send to the proxy: emptied while it passes
                from prefect.events.worker import EventsWorker
                from prefect.logging.handlers import APILogWorker

                proxy.fail(False)
                APILogWorker.drain_all(timeout=30)
                EventsWorker.drain_all(timeout=30)
