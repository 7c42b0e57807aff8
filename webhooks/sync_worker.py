"""The sync worker: each contract the receiver stored a change for, synced in this process as a sync_contract run.

Runs inside `python -m webhooks` (the default), or alone:

    python -m webhooks.sync_worker [--database-url URL] [--credentials-block NAME] [--settle-seconds S]
                                   [--concurrency N]

beside a receiver started with `--no-sync`, on the same database and Prefect API (PREFECT_API_URL).
The design, and why: docs/design/webhooks.md (section `webhooks/sync_worker.py`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from store import database_now, engine_for, leases, webhook_outbox
from webhooks.left_running import WEBHOOK_TAG, close_runs_left_running

logger = logging.getLogger("webhooks.sync_worker")

DEFAULT_SETTLE_S = 1.0
DEFAULT_CONCURRENCY = 8
POLL_S = 0.2  # how often the outbox is looked at: the delay a change waits before its settle begins
SETTLE_ROUNDS = 10  # a contract whose deliveries never quiet is synced after this many settle periods anyway
CLAIM_SECONDS = 30  # a worker's claim on a contract, renewed while its sync runs; a killed worker's lapses
RETRY_BASE_S, RETRY_MAX_S = 1.0, 60.0
SWEEP_S = 10.0  # how often lapsed claims on contracts with nothing pending are looked for (_close_what_the_dead_left)
PROBE_S = 2.0  # while a change waits to be tried again, how often the Prefect API's health is asked
CREDENTIALS_TTL_S = 300.0  # the credentials document is read again after this long (a rotated secret)
TAGS = ("spotdraft", "spotdraft-data", WEBHOOK_TAG)  # spotdraft-data: a failed run starts a review


@dataclass
class _Retry:
    attempts: int
    not_before: float  # time.monotonic()


class SyncWorker:
    """`start()` runs the loop in a thread of its own and `stop()` ends it (running syncs finish); `run()` blocks."""

    def __init__(self, database_url: str, *, credentials_block: str = "spotdraft",
                 settle_seconds: float = DEFAULT_SETTLE_S, concurrency: int = DEFAULT_CONCURRENCY,
                 credentials: Any = None) -> None:
        self.database_url = database_url
        self.credentials_block = credentials_block
        self.settle = timedelta(seconds=settle_seconds)
        self.concurrency = concurrency
        self.holder = f"sync-worker-{uuid.uuid4()}"
        self._given_credentials = credentials
        self._credentials: tuple[float, Any] | None = None
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="sync-contract")
        self._running: dict[str, Future] = {}
        self._retries: dict[str, _Retry] = {}
        self._left_running: set[str] = set()  # contracts whose last worker died mid-sync (left_running.py)
        self._stopping = threading.Event()
        self._wake = threading.Event()  # a sync ended, or a stop was asked: look at the outbox now, not at the poll
        self._run_settings: Any = None  # Prefect's settings for the runs, made once (_warm_up)
        self._lock = threading.Lock()  # _retries, _left_running: shared by the sync threads and the loop
        self._thread: threading.Thread | None = None
        self._probed, self._api_down = 0.0, False
        self._swept = 0.0

    # -- the loop -----------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="sync worker", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Take no more contracts (a signal handler's part; `stop()` then waits for the syncs under way)."""
        self._stopping.set()
        self._wake.set()

    def stop(self, timeout: float = 60.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self) -> None:
        logger.info("sync worker %s: syncing each stored change's contract (settle %g s, %d at once)",
                    self.holder, self.settle.total_seconds(), self.concurrency)
        self._warm_up()
        failures = 0
        while not self._stopping.is_set():
            try:
                self.tick()
                failures = 0
                wait = POLL_S
            except Exception as error:  # the database: nothing is lost, the next round looks again
                failures += 1
                wait = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (failures - 1))
                if failures == 1 or failures % 10 == 0:
                    logger.warning("the outbox could not be read (%s); looking again in %g s",
                                   type(error).__name__, wait)
            self._wake.wait(wait)
            self._wake.clear()

    def _warm_up(self) -> None:
        """Pay now what the first run would pay in the first change's time (seconds on a busy 2-core machine): the
        flows' imports, Prefect's parameter encoder (it imports FastAPI), its API version check, the credentials."""
        from prefect.client.orchestration import get_client

        from flows.sync_contract import sync_contract

        self._run_settings = _settings_without_heartbeats()
        sync_contract.serialize_parameters({"contract_id": "1", "database_url": self.database_url})
        try:
            with get_client(sync_client=True) as client:
                client.raise_for_api_version_mismatch_once()  # once per process, as every run would
            self._credentials_document()
        except Exception as error:  # Prefect down, or no document yet: each sync tries again until it works
            logger.warning("the Prefect API or the credentials document %r could not be read yet (%s)",
                           self.credentials_block, type(error).__name__)

    def tick(self) -> None:
        """One look at the outbox: start a sync for each contract whose deliveries have settled."""
        self._forget_finished()
        engine = engine_for(self.database_url)
        self._probe_api()
        now = database_now(engine)
        pending_syncs = webhook_outbox.pending_syncs(engine)
        for pending in pending_syncs:
            if len(self._running) >= self.concurrency:
                break
            key = pending.contract_id
            with self._lock:
                retry = self._retries.get(key)
            if key in self._running or (retry and time.monotonic() < retry.not_before):
                continue
            settled = now - pending.last_received >= self.settle
            overdue = now - pending.first_received >= self.settle * SETTLE_ROUNDS
            if not (settled or overdue):
                continue
            # Another worker on the same database syncs it: both would start a run, the second to find it covered.
            dead_worker = leases.lapsed_holder(engine, _claim_key(key))
            if leases.acquire(engine, _claim_key(key), self.holder, CLAIM_SECONDS):
                if dead_worker is not None:  # a worker died syncing it: its run is closed before ours starts
                    with self._lock:
                        self._left_running.add(key)
                self._submit(key, self._sync, key, pending.ticket, pending.deliveries)
        self._close_what_the_dead_left(engine, {pending.contract_id for pending in pending_syncs})

    def _submit(self, key: str, work, *arguments) -> None:
        self._running[key] = self._pool.submit(work, *arguments)
        self._running[key].add_done_callback(lambda _: self._wake.set())

    def _close_what_the_dead_left(self, engine, pending: set[str]) -> None:
        """Take each lapsed claim on a contract with nothing pending, close the runs its dead holder left, release it.

        A worker killed after its run stored the change but before Prefect heard the run end leaves nothing pending
        for that contract: no sync brings a worker there, and the run would stay Running. Its lapsed claim does."""
        if time.monotonic() - self._swept < SWEEP_S:
            return
        self._swept = time.monotonic()
        for claim in leases.lapsed_keys(engine, _claim_key("")):
            key = claim.removeprefix(_claim_key(""))
            if len(self._running) >= self.concurrency:
                return
            if key not in pending and key not in self._running and leases.acquire(engine, claim, self.holder,
                                                                                  CLAIM_SECONDS):
                self._submit(key, self._close_only, key)

    def _close_only(self, key: str) -> None:
        engine = engine_for(self.database_url)
        try:
            with leases.kept(engine, _claim_key(key), self.holder, CLAIM_SECONDS):
                close_runs_left_running(key)
        except Exception as error:  # the claim is left to lapse again: the next look tries again
            logger.warning("contract %s: the runs a stopped sync worker left could not be closed yet (%s)",
                           key, type(error).__name__)
            return
        leases.release(engine, _claim_key(key), self.holder)

    # -- one contract ---------------------------------------------------------------------------------

    def _sync(self, key: str, ticket: int, deliveries: int) -> None:
        engine = engine_for(self.database_url)
        try:
            # Renewed by a thread of its own while this sync lasts, not by the loop: the loop stops first when the
            # worker is asked to stop, and a worker taking a lapsed claim sets the runs of its contract Abandoned.
            with leases.kept(engine, _claim_key(key), self.holder, CLAIM_SECONDS):
                if key in self._left_running:
                    close_runs_left_running(key)
                    with self._lock:
                        self._left_running.discard(key)
                state = self._run_flow(key)
        except Exception as error:  # no run, or one Prefect never heard the end of: the change stays queued
            self._retry_later(key, f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}")
            return
        finally:
            # Still listed when closing the dead worker's runs failed. Its lapsed claim is then the only trace of
            # them another worker sees: released, the next worker to take the contract (this one may be stopped
            # first) would leave them Running for ever. So it is left to lapse.
            with self._lock:
                runs_left = key in self._left_running
            if not runs_left:
                leases.release(engine, _claim_key(key), self.holder)
        webhook_outbox.settle_covered(engine, key)
        run = f"flow run {state.state_details.flow_run_id}"
        if state.is_failed() or state.is_crashed():
            # Recorded where the review sees it (a failed run tagged spotdraft-data; a dead letter for a
            # SpotDraft error): not tried again here, which could go on for ever. The next delivery tries again.
            given_up = webhook_outbox.give_up(engine, key, ticket, f"failed ({run}): left to the review")
            logger.warning("contract %s: the sync failed (%s, %s); %d deliveries left to the review",
                           key, run, state.name, given_up)
        else:
            logger.info("contract %s: %s by %s (%d deliveries)", key, state.name.lower(), run, deliveries)
        with self._lock:
            self._retries.pop(key, None)

    def _run_flow(self, key: str):
        from prefect import tags
        from prefect.context import SettingsContext

        from flows.sync_contract import sync_contract

        profile, settings = self._run_settings or _settings_without_heartbeats()
        with tags(*TAGS), SettingsContext(profile=profile, settings=settings):
            return sync_contract(self._credentials_document(), key, database_url=self.database_url,
                                 settle_seconds=0, return_state=True)  # settled here, on the deliveries' times

    def _credentials_document(self) -> Any:
        if self._given_credentials is not None:
            return self._given_credentials
        if self._credentials is None or time.monotonic() - self._credentials[0] > CREDENTIALS_TTL_S:
            from blocks import SpotDraftCredentials

            self._credentials = (time.monotonic(), SpotDraftCredentials.load(self.credentials_block))
        return self._credentials[1]

    def _retry_later(self, key: str, why: str) -> None:
        with self._lock:
            attempts = self._retries[key].attempts + 1 if key in self._retries else 1
            wait = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (attempts - 1))
            self._retries[key] = _Retry(attempts, time.monotonic() + wait)
        logger.warning("contract %s: no sync run could be made or finished (%s); its change stays queued, "
                       "trying again in %g s (attempt %d)", key, why, wait, attempts)

    def _probe_api(self) -> None:
        """While changes wait to be tried again, ask the Prefect API's health now and then: once it answers after
        not answering, every waiting change is tried at once, not after the rest of its backoff. Only the probe
        knocks on an API that is down, not each waiting change."""
        with self._lock:
            waiting = bool(self._retries)
        if not waiting or time.monotonic() - self._probed < PROBE_S:
            return
        self._probed = time.monotonic()
        if not _api_healthy():
            self._api_down = True
        elif self._api_down:
            self._api_down = False
            logger.info("the Prefect API answers again: the waiting changes are tried now")
            with self._lock:
                for retry in self._retries.values():
                    retry.not_before = 0.0

    def _forget_finished(self) -> None:
        for key in [k for k, future in self._running.items() if future.done()]:
            error = self._running.pop(key).exception()
            if error is not None:  # a bug, or the database failing after the run: retried all the same
                self._retry_later(key, f"{type(error).__name__} after the run")


def _api_healthy() -> bool:
    """One GET of the Prefect API's /health, without the client's retries (a 503 would be retried for a minute)."""
    from prefect.settings import PREFECT_API_KEY, PREFECT_API_URL

    key = PREFECT_API_KEY.value()
    try:
        answer = httpx.get(f"{PREFECT_API_URL.value()}/health", timeout=PROBE_S,
                           headers={"Authorization": f"Bearer {key.get_secret_value()}"} if key else {})
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def _settings_without_heartbeats() -> tuple[Any, Any]:
    """The current Prefect settings with flow-run heartbeats off, for the runs made here.

    Prefect's heartbeat thread sleeps in steps of a second, and a sync run waits for it to end: about 1 s more per
    run, most of a run that takes 0.1 s, and the thread running it is held meanwhile. A heartbeat tells a server
    that a run's process still lives; here the process is this long-lived one, and a change whose run it never saw
    end stays queued in the outbox and is synced again by the next worker (made once: copying the settings costs
    about 25 ms)."""
    from prefect.context import get_settings_context
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

    context = get_settings_context()
    return context.profile, context.settings.copy_with_update(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def _claim_key(key: str) -> str:
    return f"sync-worker:{key}"


# -- python -m webhooks.sync_worker ---------------------------------------------------------------------

def add_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The worker's options, for its own command and for `python -m webhooks` (there prefixed `sync-`)."""
    parser.add_argument(f"--{prefix}credentials-block", dest="credentials_block", default="spotdraft", metavar="NAME",
                        help="the SpotDraftCredentials document the syncs use (default spotdraft, as the deployments)")
    parser.add_argument(f"--{prefix}settle-seconds", dest="settle_seconds", type=_seconds, default=DEFAULT_SETTLE_S,
                        metavar="S", help="a contract is synced once no delivery for it came for this long, so a "
                                          f"burst of deliveries is read once (default {DEFAULT_SETTLE_S:g})")
    parser.add_argument(f"--{prefix}concurrency", dest="concurrency", type=_count, default=DEFAULT_CONCURRENCY,
                        metavar="N", help=f"contracts synced at once (default {DEFAULT_CONCURRENCY})")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"must be between 0 and 60: {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 64: {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    from prefect.settings import PREFECT_API_URL

    from store.database_url import check_database_url, default_database_url

    parser = argparse.ArgumentParser(prog="python -m webhooks.sync_worker", description=(
        "Sync each contract the webhook receiver (python -m webhooks --no-sync) stored a change for, "
        "as a sync_contract flow run in this process."))
    parser.add_argument("--database-url", help="the receiver's database, where the syncs write too (default: the "
                                               "flows' default database)")
    add_options(parser)
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    arguments = parser.parse_args(argv)
    try:
        database_url = check_database_url(arguments.database_url or default_database_url())
    except ValueError as error:
        print(f"webhooks.sync_worker: {error}", file=sys.stderr)
        return 2
    if not PREFECT_API_URL.value():
        print("webhooks.sync_worker: PREFECT_API_URL is not set: the syncs are flow runs of a running Prefect "
              "server (or Prefect Cloud), e.g. PREFECT_API_URL=http://127.0.0.1:4200/api", file=sys.stderr)
        return 2
    logging.basicConfig(level=arguments.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    worker = SyncWorker(database_url, credentials_block=arguments.credentials_block,
                        settle_seconds=arguments.settle_seconds, concurrency=arguments.concurrency)
    for sig in (signal.SIGTERM, signal.SIGINT):  # stop taking contracts; the syncs under way finish
        signal.signal(sig, lambda *_: worker.request_stop())
    worker.run()
    worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
