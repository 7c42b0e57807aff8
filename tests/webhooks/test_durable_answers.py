"""The receiver's answer is durable: 2xx only once the delivery and its contract's ticket are committed, in one
transaction, to a real SQLite file; 503 with Retry-After (and nothing half-written) when they cannot be; a replay
is 200 with no second ticket and no second event; an event waits in the outbox while Prefect is away.

In-process: the app under uvicorn on loopback, a recording sink standing in for the Prefect API (what the relay
sends is the question); the database is real and is made to fail for real (a trigger that aborts the insert, a
lock held by another connection, a directory that does not exist).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa

from store import engine_for
from store.sync_tickets import counters
from tests.support.serving import serving
from tests.support.webhook_sinks import RecordingSink, outbox_rows
from webhooks.receiver import create_app
from webhooks.signature import SIGNATURE_HEADER

KEY = b"durable-answers-key-3c9d1e7b"


def delivery(contract_id: int, activity: str = "CONTRACT_EXECUTED", **fields) -> bytes:
    return json.dumps({"contract_id": contract_id, "activity": activity, **fields}).encode()


@contextlib.contextmanager
def receiver(database_url: str, sink: RecordingSink, **options) -> Iterator[str]:
    with serving(create_app(KEY, database_url=database_url, sink=sink, **options), log_level="critical") as port:
        yield f"http://127.0.0.1:{port}/spotdraft/webhooks"


def post(url: str, body: bytes) -> httpx.Response:
    signature = hmac.new(KEY, body, hashlib.sha512).hexdigest()
    return httpx.post(url, content=body, headers={SIGNATURE_HEADER: signature}, timeout=30)


def sqlite_file(database_url: str) -> str:
    return sa.engine.make_url(database_url).database


def test_a_stored_delivery_is_202_and_a_replay_200_with_no_second_ticket_or_event(sqlite_url):
    sink = RecordingSink()
    raw = delivery(7001)
    with receiver(sqlite_url, sink) as url:
        first = post(url, raw)
        assert first.status_code == 202 and first.json()["status"] == "accepted", first.text
        [row] = outbox_rows(sqlite_url)
        assert (row["event_id"], row["contract_id"], row["ticket"]) == (first.json()["event_id"], "7001", 1)
        assert counters(engine_for(sqlite_url), "7001") == (1, 0)  # committed with the row, before the answer
        [event] = sink.wait_for(1)
        assert event["id"] == first.json()["event_id"] and event["event"] == "spotdraft.contract.executed"

        again = post(url, raw)
        assert again.status_code == 200 and again.json() == {**first.json(), "status": "duplicate"}
        time.sleep(0.5)  # the replay woke the relay: it finds nothing to send
    assert counters(engine_for(sqlite_url), "7001") == (1, 0)
    assert len(outbox_rows(sqlite_url)) == 1 and len(sink.sent) == 1


def test_copies_of_one_delivery_at_once_are_one_delivery(sqlite_url):
    sink = RecordingSink()
    raw = delivery(7002)
    with receiver(sqlite_url, sink) as url:
        barrier = threading.Barrier(8)

        def send(_) -> int:
            barrier.wait()
            return post(url, raw).status_code

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:
            codes = sorted(pool.map(send, range(8)))
        sink.wait_for(1)
        time.sleep(0.5)
    assert codes == [200] * 7 + [202]
    assert counters(engine_for(sqlite_url), "7002") == (1, 0) and len(sink.sent) == 1


def test_a_database_failing_mid_delivery_is_503_and_nothing_is_half_written(sqlite_url):
    """The ticket is taken first, then the row is refused: the answer is 503 and the ticket is rolled back with it."""
    sink = RecordingSink()
    raw = delivery(7003)
    engine_for(sqlite_url)  # the schema, so the trigger has a table to sit on
    with contextlib.closing(sqlite3.connect(sqlite_file(sqlite_url))) as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON webhook_deliveries "
                     "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
        conn.commit()
    with receiver(sqlite_url, sink) as url:
        refused = post(url, raw)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "30", refused.text
        assert counters(engine_for(sqlite_url), "7003") == (0, 0) and outbox_rows(sqlite_url) == []

        with contextlib.closing(sqlite3.connect(sqlite_file(sqlite_url))) as conn:
            conn.execute("DROP TRIGGER refuse")
            conn.commit()
        assert post(url, raw).status_code == 202  # SpotDraft's next attempt
        sink.wait_for(1)
    assert counters(engine_for(sqlite_url), "7003") == (1, 0) and len(outbox_rows(sqlite_url)) == 1


def test_a_database_that_does_not_answer_in_time_is_503_and_a_late_commit_is_not_a_second_delivery(sqlite_url):
    """Another connection holds SQLite's write lock: the answer is 503 within the store timeout. The write it
    was waiting for may still commit later; SpotDraft's next attempt then finds it (200), never a second one."""
    sink = RecordingSink()
    raw = delivery(7004)
    engine_for(sqlite_url)
    locker = sqlite3.connect(sqlite_file(sqlite_url), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with receiver(sqlite_url, sink, store_timeout=1.0) as url:
            started = time.monotonic()
            answer = post(url, raw)
            assert answer.status_code == 503 and time.monotonic() - started < 5, answer.text
            locker.execute("COMMIT")
            deadline = time.monotonic() + 30
            while (again := post(url, raw)).status_code == 503:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert again.status_code in (200, 202)
            sink.wait_for(1)
            time.sleep(0.5)
    finally:
        locker.close()
    assert counters(engine_for(sqlite_url), "7004") == (1, 0) and len(sink.sent) == 1


def test_a_database_that_cannot_be_opened_is_503(tmp_path):
    sink = RecordingSink()
    with receiver(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", sink) as url:
        answer = post(url, delivery(7005))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert sink.sent == []


def test_while_prefect_is_away_deliveries_are_acknowledged_and_their_events_follow_in_order(sqlite_url):
    sink = RecordingSink()
    sink.down = True
    with receiver(sqlite_url, sink) as url:
        answers = [post(url, delivery(7010 + n)) for n in range(3)]
        assert [a.status_code for a in answers] == [202] * 3
        # A second try (a second after the first): the first one has failed whole. Waited for, not assumed within a
        # sleep: seconds later on a loaded machine.
        deadline = time.monotonic() + 30
        while sink.requests < 2:
            assert time.monotonic() < deadline, "the relay did not try to send again"
            time.sleep(0.05)
        assert sink.sent == [] and sink.requests >= 1  # tried, and failed
        assert all(row["emitted_at"] is None for row in outbox_rows(sqlite_url))
        back = datetime.now(UTC)
        sink.down = False
        events = sink.wait_for(3, timeout=30)  # after the relay's backoff
        time.sleep(0.5)
    assert [e["id"] for e in sink.sent] == [a.json()["event_id"] for a in answers]  # once each, in order
    # Stamped when sent, so a trigger that has moved past the outage does not drop them as late.
    occurred = [datetime.fromisoformat(e["occurred"]) for e in events]
    assert occurred == sorted(occurred) and occurred[0] >= back
    assert all(row["emitted_at"] is not None for row in outbox_rows(sqlite_url))


def test_an_event_the_server_holds_already_is_not_sent_again(sqlite_url):
    """A delivery from before the outbox, or one whose acceptance was never written down: the relay asks first."""
    import uuid

    from webhooks.delivery import delivery_digest, event_id_for

    sink = RecordingSink()
    raw = delivery(7020)
    sink.held = {event_id_for(delivery_digest(raw))}
    with receiver(sqlite_url, sink) as url:
        assert post(url, raw).status_code == 202
        assert post(url, delivery(7021)).status_code == 202  # a sentinel: sent once the first was dealt with
        [sentinel] = sink.wait_for(1)
        time.sleep(0.3)
    assert len(sink.sent) == 1 and uuid.UUID(sentinel["id"]) not in sink.held
    assert all(row["emitted_at"] is not None for row in outbox_rows(sqlite_url))


def test_a_database_url_with_a_password_stops_the_start(monkeypatch, capsys):
    """The receiver's syncs are flow runs whose parameters Prefect stores and shows: no password in the URL."""
    import base64

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from webhooks.__main__ import main as receiver_main
    from webhooks.sync_worker import main as worker_main

    monkeypatch.setenv("SPOTDRAFT_WEBHOOK_KEY", base64.b64encode(KEY).decode())
    url = "postgresql+psycopg://etl:s3cret-pw@db.example/contracts"
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert receiver_main(["--port", "1", "--database-url", url]) == 2
        assert worker_main(["--database-url", url]) == 2
    error = capsys.readouterr().err
    assert error.count("carries a password") == 2 and "s3cret" not in error
