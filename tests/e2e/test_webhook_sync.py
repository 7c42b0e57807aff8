"""From a change in SpotDraft to its row, through `python -m webhooks` and its sync worker, on a real Prefect server
on SQLite and on PostgreSQL (the production setup), with the Prefect API failing between receiver and sync.

Real processes: `prefect server start` (its database SQLite in its home, or a throwaway PostgreSQL's, where the
receiver's own database also lives), a proxy in front of its API that can answer 503 to everything, the sandbox
delivering signed webhooks (and delivering again on a non-2xx answer or a refused connection, as SpotDraft does),
and the receiver as operators run it, pointed at the proxy. What is checked is what each side ends with: every
change in its row, every delivery stored and settled, one `spotdraft.contract.*` event per delivery on the server,
one tagged flow run per change when nothing failed. The failures: 503s for a while, a server restart, the receiver
killed (kill -9) in the middle of a sync and the server down for 30 s at the same time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from client import SpotDraftClient
from flows.webhook_registration import DEFAULT_ACTIVITIES
from sandbox import Sandbox
from store import contracts, engine_for
from tests.support.flaky_proxy import FlakyProxy
from tests.support.prefect_rest import read_events, rest
from tests.support.webhook_deliveries import Receiver
from tests.support.webhook_sinks import outbox_rows
from tools.postgres import new_database, postgres_server, prefect_database
from tools.prefect_server import PrefectServer, free_port
from webhooks.delivery import event_id_for
from webhooks.left_running import ABANDONED

BEFORE, AFTER = "DRAFT", "REDLINING"  # a change: `send`, one CONTRACT_SENT_TO_COUNTERPARTY delivery
SERVER_SETTINGS = {"PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "0.5",
                   "PREFECT_SERVER_UI_ENABLED": "false"}


@dataclass
class Stack:
    sandbox: Sandbox
    server: PrefectServer
    proxy: FlakyProxy
    receiver: Receiver
    database_url: str
    spare: list[str]  # contracts not changed yet

    def change(self, count: int) -> list[str]:
        """`send` the next `count` contracts (each a delivery to the receiver); their composite ids."""
        changed, self.spare = self.spare[:count], self.spare[count:]
        for composite_id in changed:
            self.sandbox.advance(composite_id, "send")
        return changed

    def rows(self, composite_ids: list[str]) -> dict[str, str | None]:
        with engine_for(self.database_url).connect() as conn:
            found = dict(conn.execute(sa.select(contracts.c.composite_id, contracts.c.contract_status)
                                      .where(contracts.c.composite_id.in_(composite_ids))).all())
        return {c: found.get(c) for c in composite_ids}

    def wait_for_rows(self, composite_ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (rows := self.rows(composite_ids)) != {c: AFTER for c in composite_ids}:
            assert time.monotonic() < deadline, f"rows not synced after {timeout:.0f} s: {rows}\n{self.log_tail()}"
            time.sleep(0.3)

    def wait_until_settled(self, timeout: float = 60) -> list[dict]:
        """The outbox, once every delivery in it is settled (its sync's run may end a moment after the row)."""
        deadline = time.monotonic() + timeout
        while not all((rows := outbox_rows(self.database_url)) and [r["settled_at"] for r in rows]):
            assert time.monotonic() < deadline, f"unsettled deliveries: {rows}\n{self.log_tail()}"
            time.sleep(0.3)
        return rows

    def log_tail(self) -> str:
        return self.receiver.output()[-6000:]


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory):
    kind = request.param
    home = tmp_path_factory.mktemp(f"webhook-sync-{kind}")
    with contextlib.ExitStack() as stop:
        prefect_url = None
        database_url = f"sqlite:///{home / 'spotdraft.db'}"
        if kind == "postgresql":
            postgres = stop.enter_context(postgres_server())
            prefect_url, database_url = prefect_database(postgres), new_database(postgres)
        with pytest.MonkeyPatch.context() as patch:
            for name, value in SERVER_SETTINGS.items():
                patch.setenv(name, value)
            server = PrefectServer(home / "prefect", database_url=prefect_url)
            stop.callback(server.stop)
            server.start()
        proxy = stop.enter_context(FlakyProxy(server.port).running())
        sb = stop.enter_context(Sandbox(contracts=40, seed=31))
        sb.set_webhook_delivery(attempts=40, backoff_s=0.5, max_backoff_s=2.0)  # patient, as SpotDraft is
        spare = [c["composite_id"] for c in sb.snapshot()]
        for composite_id in spare:
            sb.touch(composite_id, status=BEFORE)  # silent: no delivery
        save_credentials(server, sb)
        port = free_port()
        with SpotDraftClient(sb.client_id, sb.client_secret, base_url=sb.base_url) as client:
            client.call("create_webhook", body={"title": "e2e", "url": f"http://127.0.0.1:{port}/spotdraft/webhooks",
                                                "only_for_activities": DEFAULT_ACTIVITIES})
            key = client.call("get_webhook_hmac_key")["hmac_key"]
        # A read held by the sandbox is waited for (not timed out and retried): the kill below lands mid-sync.
        env = {**os.environ, **server.env, "PREFECT_API_URL": proxy.api_url, "SPOTDRAFT_WEBHOOK_KEY": key,
               "SPOTDRAFT_TIMEOUT_READ": "60"}
        receiver = Receiver(env, home, port, database_url=database_url, sync=True)
        stop.callback(receiver.stop)
        receiver.start()
        yield Stack(sb, server, proxy, receiver, database_url, spare)


def save_credentials(server: PrefectServer, sb: Sandbox) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from blocks import SpotDraftCredentials

    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        SpotDraftCredentials(client_id=sb.client_id, client_secret=sb.client_secret,
                             base_url=sb.base_url).save("spotdraft", overwrite=True)


def sync_runs(stack: Stack) -> dict[str, list[dict]]:
    """The server's sync-contract runs, by the contract id they were given."""
    runs = rest(stack.server.env, "POST", "/flow_runs/filter",
                {"flows": {"name": {"any_": ["sync-contract"]}}, "limit": 200})
    found: dict[str, list[dict]] = {}
    for run in runs:
        found.setdefault(str(run["parameters"]["contract_id"]), []).append(run)
    return found


def assert_one_event_per_delivery(stack: Stack, composite_ids: list[str], timeout: float = 60) -> None:
    """Every delivery the sandbox made for these contracts is one event on the server, and nothing else is."""
    ids = {c.split("-")[1] for c in composite_ids}
    delivered = {str(event_id_for(d.body_sha256)) for d in stack.sandbox.webhook_deliveries()
                 if str(d.contract_id) in ids}
    deadline = time.monotonic() + timeout
    while True:
        stored = [e["id"] for e in read_events(stack.server.env, resource={
            "id": [f"spotdraft.contract.{i}" for i in ids]})]
        if sorted(stored) == sorted(delivered):
            return
        assert time.monotonic() < deadline, f"events {sorted(stored)} for the deliveries {sorted(delivered)}"
        time.sleep(0.5)


@pytest.mark.parametrize("stack", ["sqlite", "postgresql"], indirect=True)
def test_each_change_reaches_its_row_as_one_tagged_run_and_one_event(stack):
    changed = stack.change(3)
    stack.wait_for_rows(changed, timeout=120)  # a deadline: three syncs through a real server, on a loaded machine
    runs = sync_runs(stack)
    for composite_id in changed:
        [run] = runs[composite_id.split("-")[1]]
        assert {"spotdraft", "spotdraft-data"} <= set(run["tags"]), run["tags"]
    assert_one_event_per_delivery(stack, changed)
    assert {row["outcome"] for row in stack.wait_until_settled()} == {"synced"}


@pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
def test_with_the_prefect_api_failing_no_change_is_lost(stack):
    everything: list[str] = []

    # 1. Every request to the Prefect API answered 503 for a while: deliveries are stored and answered all the same.
    stack.proxy.fail()
    everything += stack.change(3)
    time.sleep(6)
    assert AFTER not in stack.rows(everything).values()  # no sync could run meanwhile
    deadline = time.monotonic() + 60  # but every delivery is stored (waited for: seconds later on a loaded machine)
    while len(outbox_rows(stack.database_url)) < 3:
        assert time.monotonic() < deadline, f"{len(outbox_rows(stack.database_url))} of 3 deliveries stored"
        time.sleep(0.3)
    stack.proxy.fail(False)
    assert stack.proxy.refused > 0
    stack.wait_for_rows(everything, timeout=90)

    # 2. A server restart, with changes made while it is away.
    stack.server.stop()
    everything += stack.change(3)
    stack.server.start()
    stack.wait_for_rows(everything, timeout=90)

    # 3. The receiver killed in the middle of a sync, the server down for 30 s at the same time: the next
    #    receiver stores what SpotDraft delivers again, and completes the killed sync once its lease lapses.
    slow = stack.spare[0]
    stack.sandbox.set_faults(timeout_sleep_s=20)
    stack.sandbox.script("GET", rf"/{slow}/key_pointers$", "slow", times=1)
    everything += stack.change(1)
    deadline = time.monotonic() + 120  # a deadline: a sync run started through a real server, on a loaded machine
    while stack.sandbox.app.injector.pending_script():  # the run is reading the contract now
        assert time.monotonic() < deadline, stack.log_tail()
        time.sleep(0.1)
    os.killpg(stack.receiver.process.pid, signal.SIGKILL)
    stack.server.stop()
    down_since = time.monotonic()
    everything += stack.change(3)  # delivered to nobody: SpotDraft tries again
    time.sleep(2)
    stack.receiver.start()
    time.sleep(max(0.0, 30 - (time.monotonic() - down_since)))
    stack.server.start()
    stack.wait_for_rows(everything, timeout=120)

    assert {row["outcome"] for row in stack.wait_until_settled()} == {"synced"}
    assert_one_event_per_delivery(stack, everything, timeout=90)
    answered: dict[str, set] = {}
    for attempt in stack.sandbox.webhook_deliveries():
        answered.setdefault(attempt.body_sha256, set()).add(attempt.status)
    assert all(statuses & {200, 202} for statuses in answered.values()), answered  # each one acknowledged at last
    # The killed receiver's run is not left Running: the worker that took the contract after it closed it.
    slow_runs = sync_runs(stack)[slow.split("-")[1]]
    assert [run["state"]["type"] for run in slow_runs if run["state"]["type"] in ("RUNNING", "PENDING")] == []
    assert ABANDONED in [run["state"]["name"] for run in slow_runs], [run["state"] for run in slow_runs]
