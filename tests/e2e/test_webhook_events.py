"""The webhook receiver as operators run it: `python -m webhooks --port P` beside a real Prefect server.

A real `prefect server start` (its own PREFECT_HOME, SQLite, a free port) and the receiver as a
separate process, storing into its own SQLite file (`--no-sync`: the syncs are tests/e2e/test_webhook_sync.py's);
deliveries are real signed HTTP POSTs over loopback (raw sockets where a test
needs control over what is sent and when), and every outcome is read back from the Prefect
server's events API, including the firings of an ordinary trigger on 'contract executed'. The key
is a canary: it must never appear in the receiver's output or in any event. Answer times over 200
deliveries are printed with `-s`. The refusals to start run `main()` in-process against the same
server; the cases that need no server are in test_webhook_receiver_in_process.py.

"Nothing was emitted" is checked once the server has stored a later, valid delivery (the
sentinel): Prefect writes events in batches, so an empty answer before that would prove nothing.
At the end, the number of SpotDraft events on the server must equal the number of 202 answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import yaml
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.support.paths import ROOT
from tests.support.prefect_rest import read_events, rest
from tests.support.webhook_deliveries import (
    ACCEPTED,
    CAP,
    KEY,
    KEY_BLOCK,
    KEY_TEXT,
    SENT_SIGNATURES,
    Receiver,
    contract_events,
    delivery,
    head,
    next_contract_id,
    raw_exchange,
    sign,
    wait_for_events,
)
from tests.support.webhook_sinks import outbox_rows
from tools.prefect_server import free_port, local_prefect_server
from webhooks.__main__ import main

# The server writes events every 0.5 s instead of 5 (each check of what was stored waits for that);
# it needs no UI here.
SERVER_SETTINGS = {"PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "0.5",
                   "PREFECT_SERVER_UI_ENABLED": "false"}
# What a user writes to start a deployment when a contract is executed (the action here does nothing,
# so the test sees the trigger itself: every firing is an event naming the event that fired it).
CONTRACT_EXECUTED_AUTOMATION = {
    "name": "spotdraft contract executed",
    "trigger": {"type": "event", "posture": "Reactive", "threshold": 1, "within": 0,
                "match": {"prefect.resource.id": "spotdraft.contract.*"}, "expect": ["spotdraft.contract.executed"],
                "for_each": ["prefect.resource.id"]},
    "actions": [{"type": "do-nothing"}],
}


@pytest.fixture(scope="module")
def prefect(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SERVER_SETTINGS.items():
            patch.setenv(name, value)
        with local_prefect_server(tmp_path_factory.mktemp("prefect-webhooks")) as prefect_env:
            env = {**os.environ, **prefect_env}
            created = rest(env, "POST", "/automations/", CONTRACT_EXECUTED_AUTOMATION)
            yield {**env, "automation": created["id"]}


@pytest.fixture(scope="module")
def receiver(prefect, tmp_path_factory):
    logs = tmp_path_factory.mktemp("receiver-logs")
    process = Receiver({**prefect, "SPOTDRAFT_WEBHOOK_KEY": KEY_TEXT}, logs).start()
    try:
        yield process
    finally:
        process.stop()


# ------------------------------------------------------------------------------- the server's events


def automation_firings(prefect: dict) -> list[str]:
    """The events that fired the contract-executed automation, once per firing, sorted."""
    firings = read_events(prefect, event={"name": ["prefect.automation.triggered"]},
                          resource={"id": [f"prefect.automation.{prefect['automation']}"]})
    return sorted(r["prefect.resource.id"] for e in firings for r in e["related"]
                  if r["prefect.resource.role"] == "triggering-event")


def settle(prefect: dict, receiver: Receiver) -> None:
    """Deliver a sentinel and wait until the server has stored it: what came before is stored too."""
    body, raw = delivery("CONTRACT_CREATED")
    assert receiver.deliver(raw).status_code == 202
    wait_for_events(prefect, body["contract_id"])
    time.sleep(1.5)  # the persister's consumers may finish an earlier message a moment after a later one


# ----------------------------------------------------------------------------------------------- tests


def test_a_signed_delivery_becomes_the_contract_event(prefect, receiver):
    body, raw = delivery("CONTRACT_EXECUTED", contract_template_id=77)
    started = time.perf_counter()
    answer = receiver.deliver(raw)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 202, answer.text
    expected_id = str(uuid.uuid5(uuid.UUID("4d2f7c1e-8b1a-5e3c-9f6d-2a7b0c9e1d54"), hashlib.sha256(raw).hexdigest()))
    assert answer.json() == {"status": "accepted", "event": "spotdraft.contract.executed", "event_id": expected_id}
    assert elapsed < 5, f"the first answer took {elapsed:.3f} s"  # the figures are in test_answer_times

    [event] = wait_for_events(prefect, body["contract_id"])
    assert event["id"] == expected_id
    assert event["event"] == "spotdraft.contract.executed"
    assert event["resource"] == {
        "prefect.resource.id": f"spotdraft.contract.{body['contract_id']}",
        "prefect.resource.name": body["contract_title"],
        "spotdraft.contract.id": str(body["contract_id"]),
        "spotdraft.activity": "CONTRACT_EXECUTED",
        "spotdraft.contract.status": body["contract_status"],
        "spotdraft.contract.kind": body["contract_kind"],
    }
    assert {r["prefect.resource.id"]: r["prefect.resource.role"] for r in event["related"]} == {
        "spotdraft.contract-type.135": "contract-type", "spotdraft.template.77": "template"}
    assert event["payload"] == body  # every field of the delivery, none of them secret


def test_any_activity_is_an_event_in_lower_case(prefect, receiver):
    body, raw = delivery("SIGNING_EMAIL_OPENED")
    assert receiver.deliver(raw).status_code == 202
    [event] = wait_for_events(prefect, body["contract_id"])
    assert event["event"] == "spotdraft.contract.signing_email_opened"


def test_a_secret_inside_a_delivery_is_masked_in_the_event(prefect, receiver):
    """The key is registered with the scrubbers and `hmac_key` is a field the spec marks secret:
    a sender that put either in a delivery still gets an event without them."""
    body, raw = delivery("CONTRACT_SIGNED", contract_title=f"title {KEY_TEXT}", hmac_key=KEY_TEXT)
    assert receiver.deliver(raw).status_code == 202
    [event] = wait_for_events(prefect, body["contract_id"])
    assert KEY_TEXT not in json.dumps(event)
    assert event["payload"]["hmac_key"] == "[redacted]"
    assert event["resource"]["prefect.resource.name"] == "title [redacted]"


def test_forged_unsigned_truncated_and_oversized_deliveries_change_nothing(prefect, receiver):
    refused: list[int] = []

    def refuse(status: int, body: dict, answer: httpx.Response | bytes) -> None:
        code = answer.status_code if isinstance(answer, httpx.Response) else int(answer.split()[1])
        assert code == status, answer if isinstance(answer, bytes) else answer.text
        refused.append(body["contract_id"])

    body, raw = delivery()
    refuse(401, body, receiver.post(raw))  # unsigned
    refuse(401, body, receiver.post(raw, sign(raw, key=b"someone-else's-key")))  # forged
    refuse(401, body, receiver.post(raw, sign(raw + b" ")))  # the signature of other bytes
    refuse(401, body, receiver.post(raw[:-10], sign(raw)))  # truncated, signed whole
    refuse(401, body, receiver.post(raw, "zz" * 64))  # not hex
    refuse(401, body, receiver.post(raw, "é".encode("latin-1")))  # not even ASCII
    refuse(401, body, receiver.post(raw, sign(raw)[:-2]))  # a prefix of the right signature

    # A declared size over the cap is answered before any of the body is sent (nothing of it is read).
    big, big_raw = delivery(contract_title="x" * CAP)
    refuse(413, big, raw_exchange(receiver.port, head(sign(big_raw), Content_Length=str(len(big_raw)))))
    # Chunked, no size given: refused as soon as the cap is passed (cap + 1 bytes sent, the rest never).
    chunks, sent = [], big_raw[:CAP + 1]
    for start in range(0, len(sent), 16384):
        piece = sent[start:start + 16384]
        chunks.append(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    refuse(413, big, raw_exchange(receiver.port, head(sign(big_raw), Transfer_Encoding="chunked"), chunks))

    # The sender goes away halfway through a signed body: nothing happens, and the receiver carries on.
    cut, cut_raw = delivery()
    raw_exchange(receiver.port, head(sign(cut_raw), Content_Length=str(len(cut_raw))), [cut_raw[:200]],
                 close_write=True)
    refused.append(cut["contract_id"])

    # Signed, but not a delivery: 400 with the reason, never an event.
    for fields in ({"activity": "contract.executed"}, {"activity": None}, {"activity": "CONTRACT_"},
                   {"contract_id": "19 589"}, {"contract_id": True}, {"contract_id": None}):
        bad, bad_raw = delivery(**{"contract_id": next_contract_id(), **fields})
        refuse(400, bad, receiver.deliver(bad_raw))
    for not_a_delivery in (b"[1, 2]", b"not json", b"\xff\xfe", b""):
        assert receiver.deliver(not_a_delivery).status_code == 400

    assert httpx.get(f"{receiver.url}/healthz").status_code == 200
    settle(prefect, receiver)
    for contract_id in refused:
        assert contract_events(prefect, contract_id) == [], f"contract {contract_id} got an event"


def test_a_replay_emits_once_also_at_once_and_after_a_restart(prefect, receiver):
    body, raw = delivery("CONTRACT_EXECUTED")
    first = receiver.deliver(raw)
    assert first.status_code == 202
    again = receiver.deliver(raw)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "status": "duplicate"}

    at_once, at_once_raw = delivery("CONTRACT_EXECUTED")
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(a.status_code for a in pool.map(lambda _: receiver.deliver(at_once_raw), range(8)))
    assert codes == [200] * 7 + [202]

    wait_for_events(prefect, body["contract_id"])
    late, late_raw = delivery("CONTRACT_EXECUTED")  # the receiver restarts before the server may have stored it
    assert receiver.deliver(late_raw).status_code == 202

    # The receiver restarts with its key from a Prefect Secret block: its database remembers every delivery.
    from prefect.blocks.system import Secret

    with temporary_settings(updates={PREFECT_API_URL: prefect["PREFECT_API_URL"]}):
        Secret(value=KEY_TEXT).save(KEY_BLOCK, overwrite=True)
    receiver.stop()
    without_key = {k: v for k, v in receiver.env.items() if k != "SPOTDRAFT_WEBHOOK_KEY"}
    receiver.start("--key-block", KEY_BLOCK, env=without_key)
    replayed = receiver.deliver(raw)
    assert replayed.status_code == 200 and replayed.json()["status"] == "duplicate"
    assert receiver.deliver(late_raw).status_code == 200

    settle(prefect, receiver)
    for contract_id in (body["contract_id"], at_once["contract_id"], late["contract_id"]):
        # Waited for, not read once: settle's pause covers the persister's usual order, not one far behind on a
        # loaded machine. A duplicate, had there been one, was relayed before settle's sentinel.
        assert len(wait_for_events(prefect, contract_id)) == 1, f"contract {contract_id}"


def sync_contract_trigger(prefect: dict, contract_id: int) -> str:
    """The sync-contract-on-change deployment as deployments/prefect.yaml declares it (its trigger and the
    parameters that trigger passes), narrowed to one contract; returns the deployment's id. Runs are
    created on the server; no worker is needed to see which contract each would sync."""
    declared = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    [deployment] = [d for d in declared["deployments"] if d["name"] == "sync-contract-on-change"]
    [trigger] = deployment["triggers"]
    # Through `rest`: retried on 503, which the server answers while its SQLite database is locked (seen once
    # in a loaded run of the e2e phase).
    flow = rest(prefect, "POST", "/flows/", {"name": "sync-contract"})
    created = rest(prefect, "POST", "/deployments/", {
        "name": deployment["name"], "flow_id": flow["id"], "entrypoint": deployment["entrypoint"]})
    automation = {
        "name": f"{deployment['name']} for contract {contract_id}",
        "trigger": {**{k: trigger[k] for k in ("type", "posture", "threshold", "within", "expect")},
                    "match": {**trigger["match"], "prefect.resource.id": f"spotdraft.contract.{contract_id}"}},
        "actions": [{"type": "run-deployment", "source": "selected", "deployment_id": created["id"],
                     "parameters": trigger["parameters"]}],
    }
    rest(prefect, "POST", "/automations/", automation)
    return created["id"]


def test_text_prefect_cannot_take_is_replaced_and_the_contract_still_syncs(prefect, receiver):
    """A lone surrogate is valid JSON but not UTF-8 (the HTTP client refused to send it: a 500, retried by
    SpotDraft for ever, every later delivery held behind it). It becomes U+FFFD, as the store writes it,
    and the event still starts the contract's sync through the deployment's trigger (as declared, turned on)."""
    from client.contract_ids import contract_key

    contract_id = next_contract_id()
    deployment_id = sync_contract_trigger(prefect, contract_id)
    body, _ = delivery("CONTRACT_EXECUTED", contract_id=contract_id)
    body["contract_title"] = "Lease \ud800 renewal"
    body["counterparties"] = [{"counterparty_id": 7, "organization_name": "Acme \udfff"}]
    body["note\udc00"] = "a NUL \x00 too"  # a key; NUL is what a Prefect server on PostgreSQL cannot store
    raw = json.dumps(body).encode()  # ASCII, with \ud800 escapes: valid JSON, as a sender may write it
    assert b"\\ud800" in raw

    answer = receiver.deliver(raw)
    assert answer.status_code == 202, answer.text
    [event] = wait_for_events(prefect, contract_id)
    assert event["id"] == answer.json()["event_id"]
    assert event["resource"]["spotdraft.contract.id"] == str(contract_id)
    assert event["resource"]["prefect.resource.name"] == "Lease \ufffd renewal"
    assert event["payload"]["contract_title"] == "Lease \ufffd renewal"
    assert event["payload"]["note\ufffd"] == "a NUL \ufffd too"
    assert {"prefect.resource.id": "spotdraft.counterparty.7", "prefect.resource.role": "counterparty",
            "prefect.resource.name": "Acme \ufffd"} in event["related"]

    deadline = time.monotonic() + 60  # the trigger, then the action's call to the API: seconds on a loaded server
    while not (runs := rest(prefect, "POST", "/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}})):
        assert time.monotonic() < deadline, "the deployment's trigger started no sync_contract run"
        time.sleep(0.5)
    [run] = runs
    assert run["parameters"] == {"contract_id": str(contract_id)}
    assert contract_key(run["parameters"]["contract_id"]) == str(contract_id)  # the sync takes it


@pytest.mark.parametrize("value", [
    "NaN", "-Infinity", "1e999", "9" * 4000, "-123456789012345678901234567890", '"\\u0000"', '"\\udfff\\ud800"',
    '{"\\ud800": [1.5e308, null, "\\ud83d\\ude00"]}', '"' + "\\u00e9" * 10_000 + '"',
], ids=["nan", "-inf", "1e999", "4000-digits", "big-negative", "nul", "surrogates", "nested", "long-text"])
def test_odd_values_of_valid_signed_deliveries_are_events_never_500(prefect, receiver, value):
    """Whatever Python's JSON reader accepts in a field, a signed delivery naming a contract is an event."""
    contract_id = next_contract_id()
    raw = (f'{{"contract_id": {contract_id}, "activity": "CONTRACT_DATA_UPDATED", "contract_title": {value}, '
           f'"extra": {value}}}').encode()
    answer = receiver.deliver(raw)
    assert answer.status_code == 202, answer.text
    [event] = wait_for_events(prefect, contract_id)
    assert event["resource"]["spotdraft.contract.id"] == str(contract_id)
    assert "\\ud800" not in json.dumps(event) and "\\u0000" not in json.dumps(event)


def test_ids_and_labels_too_long_for_prefects_indexes_stay_out_of_the_event(prefect, receiver):
    """Prefect's event tables index resource ids and names (2.7 KB an entry on PostgreSQL, where a longer one
    fails the server's whole batch): a 4,000-digit id is left out of the related resources, a long title cut."""
    contract_id = next_contract_id()
    raw = (f'{{"contract_id": {contract_id}, "activity": "CONTRACT_EXECUTED", "contract_title": "{"t" * 200_000}", '
           f'"contract_type_id": {"9" * 4000}, "counterparties": [{{"counterparty_id": {"8" * 4000}}}, '
           f'{{"counterparty_id": 12}}]}}').encode()
    answer = receiver.deliver(raw)
    assert answer.status_code == 202, answer.text
    [event] = wait_for_events(prefect, contract_id)
    assert [r["prefect.resource.id"] for r in event["related"]] == ["spotdraft.counterparty.12"]
    assert len(event["resource"]["prefect.resource.name"]) == 500
    assert len(event["payload"]["contract_title"]) == 200_000  # the payload keeps the whole text


def test_a_key_that_cannot_be_used_stops_the_start(prefect, monkeypatch, capsys):
    refusals = [
        ({"SPOTDRAFT_WEBHOOK_KEY": f"{KEY_TEXT}!*"}, [], "SPOTDRAFT_WEBHOOK_KEY is not valid base64"),
        ({}, ["--key-block", "no-such-block"], "the Secret block 'no-such-block' could not be loaded"),
        ({"SPOTDRAFT_WEBHOOK_KEY": KEY_TEXT}, ["--key-block", KEY_BLOCK], "choose one"),
        ({}, [], "no webhook key"),
    ]
    with temporary_settings(updates={PREFECT_API_URL: prefect["PREFECT_API_URL"]}):
        for env, args, message in refusals:
            monkeypatch.delenv("SPOTDRAFT_WEBHOOK_KEY", raising=False)
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            assert main(["--port", str(free_port()), *args]) == 2
            err = capsys.readouterr().err
            assert message in err and KEY_TEXT not in err, err


def test_answer_times(prefect, receiver):
    times = []
    with httpx.Client() as client:
        for _ in range(200):
            _, raw = delivery("CONTRACT_DATA_UPDATED")
            signature = sign(raw)
            started = time.perf_counter()
            answer = receiver.post(raw, signature, client=client)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 202, answer.text
    times.sort()
    median, p95 = statistics.median(times) * 1000, times[int(len(times) * 0.95) - 1] * 1000
    print(f"\nwebhook answer time over {len(times)} deliveries (verify, check the server, emit): "
          f"median {median:.1f} ms, p95 {p95:.1f} ms, max {times[-1] * 1000:.1f} ms")
    assert p95 < 1000, f"p95 {p95:.0f} ms"  # generous: CI machines are shared; measured figures are in the output
    deadline = time.monotonic() + 60  # relayed 100 at a time, stored in batches: slower on a loaded machine
    while len(read_events(prefect, event={"name": ["spotdraft.contract.data_updated"]})) < 200:
        assert time.monotonic() < deadline, "not every delivery became an event"
        time.sleep(0.5)


def test_the_key_and_signatures_never_leave_and_every_202_is_one_event(prefect, receiver):
    settle(prefect, receiver)
    # Until every accepted event is stored (settle's pause covers the persister's usual order, not one far behind on
    # a loaded machine), then compared: one 202 per delivery, one event per 202.
    deadline = time.monotonic() + 60
    while True:
        stored = read_events(prefect, event={"prefix": ["spotdraft."]})
        if set(ACCEPTED) <= {e["id"] for e in stored} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sorted(e["id"] for e in stored) == sorted(ACCEPTED)

    # The ordinary trigger on 'contract executed' fired exactly once for each such event, replays included.
    executed = sorted(f"prefect.event.{e['id']}" for e in stored if e["event"] == "spotdraft.contract.executed")
    assert len(executed) >= 4
    deadline = time.monotonic() + 60  # each firing is itself an event, stored in the server's next batches
    while (fired := automation_firings(prefect)) != executed:
        assert time.monotonic() < deadline, f"the trigger fired for {fired}, expected once for each of {executed}"
        time.sleep(0.5)

    output = receiver.output()
    assert "POST /spotdraft/webhooks" in output and "refused a delivery" in output  # it did write things down
    outbox = outbox_rows(receiver.database_url)  # what the receiver stored: the same events, and nothing more
    assert sorted(row["event_id"] for row in outbox) == sorted(ACCEPTED)
    everything = output + json.dumps(stored) + json.dumps(outbox, default=str)
    for canary in (KEY_TEXT, KEY.decode(), *SENT_SIGNATURES):
        assert canary not in everything
