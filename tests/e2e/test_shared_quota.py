"""The shared SpotDraft quota (blocks/shared_quota.py) against a real local Prefect server.

Two processes share one rate through a Prefect global concurrency limit and together never get
more than the limit allows in any interval, nor much less than the rate, and neither is starved;
an unreachable API is a QuotaUnavailable at once; a changed rate updates the limit; the direct
increment emits no event. Run with `-s` to see the measured figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

import pytest

from blocks.shared_quota import PrefectSharedQuota, QuotaUnavailable, quota_name, shared_quota_for
from tests.support.paths import CANARY_SECRET, ROOT
from tests.support.prefect_rest import rest


@pytest.fixture(scope="module")
def api_url(tmp_path_factory):
    """A real `prefect server` (SQLite) for this module, stopped also when a test fails."""
    from tools.prefect_server import local_prefect_server

    with local_prefect_server(tmp_path_factory.mktemp("prefect-quota")) as env:
        yield env["PREFECT_API_URL"]


@pytest.fixture
def prefect(api_url):
    """A plain sync Prefect client on the module's server, to look at what the quota did."""
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(api_url) as client:
        yield client


def fresh_name(label: str) -> str:
    return f"test-{label}-{uuid.uuid4().hex[:8]}"


def closed_port_url() -> str:
    from tools.prefect_server import free_port

    return f"http://127.0.0.1:{free_port()}/api"


# -- names ------------------------------------------------------------------------------------------


def test_quota_name_is_readable_stable_valid_and_keeps_no_secret(api_url, prefect):
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.types.names import BANNED_CHARACTERS

    from blocks import SpotDraftCredentials

    assert quota_name("abc123", "US") == "spotdraft-rate-us-abc123"
    assert quota_name("abc123", "US") == quota_name("abc123", " us ")  # stable; a region's case does not matter
    assert quota_name("abc123", "EU") != quota_name("abc123", "US")
    assert quota_name("abc123", "US") != quota_name("ABC123", "US")  # ids are case-sensitive
    assert quota_name("Ab.c_1-2", "127.0.0.1:8123") == "spotdraft-rate-127.0.0.1:8123-Ab.c_1-2"

    odd_ids = ["client/1", "50%&co", "<id>", "with space", "ünïcode", "a?b#c", "x" * 65]
    names = [quota_name(i, "us") for i in odd_ids]
    for client_id, name in zip(odd_ids, names, strict=True):
        assert name == "spotdraft-rate-us-sha256-" + hashlib.sha256(client_id.encode()).hexdigest()[:16]
        assert client_id not in name
    assert len(set(names)) == len(names)
    host = quota_name("abc", "https://user:pw@proxy-1.example.com/x")  # an unexpected `where` is hashed too
    assert host.startswith("spotdraft-rate-h") and "pw" not in host and host.endswith("-abc")

    credentials = SpotDraftCredentials(client_id="client-7", client_secret=CANARY_SECRET, region="EU")
    name = quota_name(credentials.client_id, credentials.region.value)
    assert name == "spotdraft-rate-eu-client-7" and CANARY_SECRET not in name
    with pytest.raises(ValueError):
        quota_name("", "us")

    for name in [*names, quota_name("abc123", "US"), host]:
        GlobalConcurrencyLimitCreate(name=name, limit=1)  # Prefect's own validation
        assert not any(c in name for c in BANNED_CHARACTERS)
    # and the server takes them, by name, in its URL paths
    for name in (names[0], names[-1], host):
        with PrefectSharedQuota(name, 50, api_url=api_url) as quota:
            quota.take(1)
        assert prefect.read_global_concurrency_limit_by_name(name).name == name


# -- two processes, one rate ------------------------------------------------------------------------

WORKER = r"""
import json, sys, time
from blocks.shared_quota import PrefectSharedQuota
name, rate, seconds, api_url = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
quota = PrefectSharedQuota(name, rate, api_url=api_url)
print("ready", flush=True)
start = float(sys.stdin.readline())
time.sleep(max(0.0, start - time.time()))
grants = []
while time.time() < start + seconds:
    before = time.time()
    quota.take(quota.batch)
    grants.append([before, time.time()])
quota.close()
print(json.dumps({"grants": grants, "batch": quota.batch, "limit": quota.limit, "denials": quota.denials,
                  "round_trips": quota.grants + quota.denials + quota.reads}), flush=True)
"""


def test_two_processes_share_one_rate(api_url):
    rate, seconds, name = 40.0, 5.0, fresh_name("shared")
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, name, str(rate), str(seconds), api_url], cwd=ROOT,
                                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        start = time.time() + 0.3
        for worker in workers:
            worker.stdin.write(f"{start}\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=30)[0] for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0]
        results = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    batch, limit = results[0]["batch"], results[0]["limit"]
    assert (batch, limit) == (8, 8)
    grants = sorted((tuple(g) for r in results for g in r["grants"]), key=lambda g: g[1])
    # The server's promise, checked on every run of consecutive grants: slots granted between two
    # instants <= limit + rate * (time between them). A grant happened on the server between its
    # request's start and its answer, so [earliest start, latest answer] contains the run.
    worst = max(batch * (j - i + 1) - (limit + rate * (end_j - min(g[0] for g in grants[i:j + 1])))
                for i in range(len(grants)) for j, (_, end_j) in enumerate(grants) if j >= i)
    # The measured interval: from the first grant (the limit's creation, which both race to do, is
    # not what is measured) to `seconds` after the common start (a last take may end later).
    first, until = grants[0][1], start + seconds
    assert first < start + 3, "no grant within 3 s of the start"
    counted = [[g for g in r["grants"] if g[1] <= until] for r in results]
    slots, elapsed = batch * sum(len(c) for c in counted), until - first
    longest_wait = [max(b - a for a, b in zip([first] + [g[1] for g in c], [g[1] for g in c] + [until], strict=True))
                    for c in counted]
    round_trips = sum(r["round_trips"] for r in results)
    print(f"\n2 processes, rate {rate:g}/s, batch {batch}, limit {limit}: {slots} slots in {elapsed:.2f} s = "
          f"{slots / elapsed:.1f}/s ({slots / (rate * elapsed):.0%} of rate; limit + rate*t = "
          f"{limit + rate * elapsed:.0f}); worst window {worst:+.1f} slots against limit + rate*t; per process "
          f"{[len(c) for c in counted]} batches, {[r['denials'] for r in results]} 423s; "
          f"{round_trips / (grants[-1][1] - start):.1f} round trips/s; longest wait for a batch "
          f"{[round(w, 2) for w in longest_wait]} s; first batch {first - start:.2f} s after the start")
    # The promise (never more than the limit allows) holds however slow the server is.
    assert worst <= 1e-6
    assert slots <= limit + rate * elapsed + batch  # + batch: the first grant's request began before `first`
    # How close to the rate they get is a figure for the benchmark (`make bench`, case "ours x2"),
    # not a timed assertion: on a loaded 2-core CI machine one SQLite write that collides stalls a
    # process 2 to 4 s (module docstring of blocks/shared_quota.py), and one run got 53 % of the
    # rate. What is asserted holds with such stalls: both make progress, the pair is not stuck near
    # one batch a second (20 % of the rate), and neither is starved (without the give-way rules in
    # blocks/shared_quota.py one of the two got 1 batch in 5 s).
    assert slots >= 0.3 * rate * elapsed
    assert all(len(c) * batch >= 0.15 * slots for c in counted)


# -- failures ---------------------------------------------------------------------------------------


def test_unreachable_api_is_quota_unavailable_at_once_without_secrets():
    from prefect.settings import PREFECT_API_KEY, PREFECT_API_URL, temporary_settings

    url = closed_port_url()
    api_key = "pnu_canaryApiKey0123456789"
    with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_API_KEY: api_key}):
        quota = shared_quota_for("client-9", "us", 20)
    assert quota is not None and quota.name == quota_name("client-9", "us") == "spotdraft-rate-us-client-9"
    assert (quota.rate, quota.batch, quota.limit) == (20.0, 4, 4)
    began = time.monotonic()
    with pytest.raises(QuotaUnavailable) as caught:
        quota.take(1)
    took = time.monotonic() - began
    message = str(caught.value)
    print(f"\nunreachable API: QuotaUnavailable after {took:.2f} s: {message}")
    assert took < 5
    assert quota.name in message and "127.0.0.1" in message
    assert CANARY_SECRET not in message and api_key not in message
    quota.close()
    with pytest.raises(QuotaUnavailable, match="closed"):
        quota.take(1)


def test_no_prefect_api_means_no_shared_quota():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert shared_quota_for("client-9", "us", 20) is None
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert isinstance(shared_quota_for("client-9", "us", 20), PrefectSharedQuota)


def test_a_limit_refused_by_the_server_is_quota_unavailable(api_url, prefect):
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    name = fresh_name("refused")
    with PrefectSharedQuota(name, 40, api_url=api_url) as quota:
        quota.take(8)
        # Someone (another process with a lower SPOTDRAFT_RATE_LIMIT) shrinks the limit under our batch.
        prefect.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=2))
        with pytest.raises(QuotaUnavailable) as caught:
            quota.take(8)
    assert name in str(caught.value) and "HTTP 422" in str(caught.value)

    name = fresh_name("inactive")
    prefect.upsert_global_concurrency_limit_by_name(name, 8, 40.0)
    prefect.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active=False))
    with PrefectSharedQuota(name, 40, api_url=api_url) as quota, pytest.raises(QuotaUnavailable, match="inactive"):
        quota.take(1)


UNUSABLE = {  # what an operator may set on the limit in Prefect, and what the refusal must say
    "capacity 0": ({"limit": 0}, "capacity is 0"),
    "inactive": ({"active": False}, "inactive"),
    "absurd slot decay": ({"slot_decay_per_second": 1e-9}, "slot decay is 1e-09"),
}


@pytest.mark.parametrize("setting", list(UNUSABLE))
def test_a_limit_an_operator_made_unusable_is_refused_clearly_before_any_slot_is_asked_and_left_as_set(
        api_url, prefect, setting):
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    update, says = UNUSABLE[setting]
    name = fresh_name("operator")
    prefect.upsert_global_concurrency_limit_by_name(name, 8, 40.0)
    prefect.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(**update))
    before = prefect.read_global_concurrency_limit_by_name(name)
    began = time.monotonic()
    with PrefectSharedQuota(name, 40, api_url=api_url) as quota, pytest.raises(QuotaUnavailable) as caught:
        quota.take(1)
    message = str(caught.value)
    print(f"\n{setting}: {message}")
    assert time.monotonic() - began < 5
    assert name in message and says in message
    assert "prefect global-concurrency-limit" in message and "SPOTDRAFT_RATE_LIMIT" in message  # what to do
    after = prefect.read_global_concurrency_limit_by_name(name)
    assert (after.limit, after.slot_decay_per_second, after.active) == (
        before.limit, before.slot_decay_per_second, before.active)  # the operator's setting stands
    assert after.active_slots == 0 and quota.grants == quota.denials == 0  # no slot was asked for


@pytest.mark.parametrize("setting", ["capacity 0", "absurd slot decay"])
def test_a_limit_made_unusable_during_a_run_is_one_clear_error_not_a_hang(api_url, prefect, setting):
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    update, says = UNUSABLE[setting]
    name = fresh_name("during")
    outcome: list[BaseException | None] = []
    with PrefectSharedQuota(name, 40, api_url=api_url) as quota:
        quota.take(8)
        prefect.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(**update))

        def take() -> None:
            try:
                quota.take(8)
                outcome.append(None)
            except QuotaUnavailable as error:
                outcome.append(error)

        thread = threading.Thread(target=take, daemon=True)
        thread.start()
        thread.join(20)
        hung = thread.is_alive()
    thread.join(5)  # closing the quota ends a take that hung
    assert not hung, f"{setting}: take still waiting after 20 s"
    [error] = outcome
    assert isinstance(error, QuotaUnavailable) and name in str(error) and says in str(error), error


def test_an_unusable_limit_is_described_whatever_its_values():
    from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse

    quota = PrefectSharedQuota("spotdraft-rate-us-x", 40, api_url=closed_port_url())

    def check(**values):
        limit = GlobalConcurrencyLimitResponse(**{"name": quota.name, "limit": 8, "active_slots": 0, **values})
        quota._check_usable(limit)

    check(slot_decay_per_second=40.0)  # ours
    check(slot_decay_per_second=1e6)  # fast: it grants everything, but nothing waits on it
    for decay in (-1.0, 0.0, float("nan"), float("-inf"), float("inf"), 1e-9):
        with pytest.raises(QuotaUnavailable, match="slot decay") as caught:
            check(slot_decay_per_second=decay)
        assert quota.name in str(caught.value)
    with pytest.raises(QuotaUnavailable, match="capacity is -1"):
        check(slot_decay_per_second=40.0, limit=-1)
    slow = PrefectSharedQuota("slow", 0.0001, api_url=closed_port_url())  # a rate this low is its own to set
    slow._check_usable(GlobalConcurrencyLimitResponse(name="slow", limit=1, active_slots=0,
                                                     slot_decay_per_second=0.0001))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        PrefectSharedQuota("has/slash", 10)
    with pytest.raises(ValueError):
        PrefectSharedQuota("ok", 0)
    with pytest.raises(ValueError):
        PrefectSharedQuota("ok", float("nan"))
    quota = PrefectSharedQuota("ok", 10, api_url=closed_port_url())
    assert (quota.batch, quota.limit) == (2, 2)
    assert PrefectSharedQuota("ok", 0.5, api_url=closed_port_url()).batch == 1
    assert PrefectSharedQuota("ok", 1000, api_url=closed_port_url()).batch == 200
    with pytest.raises(ValueError):
        quota.take(3)  # more than a batch
    with pytest.raises(ValueError):
        quota.take(0)


# -- the limit follows the rate ---------------------------------------------------------------------


def test_changing_the_rate_updates_the_limit(api_url, prefect):
    name = fresh_name("rate")
    with PrefectSharedQuota(name, 40, api_url=api_url) as quota:
        quota.take(1)
    limit = prefect.read_global_concurrency_limit_by_name(name)
    assert (limit.limit, limit.slot_decay_per_second, limit.active) == (8, 40.0, True)

    with PrefectSharedQuota(name, 10, api_url=api_url) as quota:  # the user changed SPOTDRAFT_RATE_LIMIT
        quota.take(1)
        limit = prefect.read_global_concurrency_limit_by_name(name)
        assert (limit.limit, limit.slot_decay_per_second) == (2, 10.0)
        # deleted behind our back: the next take creates it again instead of being granted vacuously
        prefect.delete_global_concurrency_limit_by_name(name)
        quota.take(1)
    limit = prefect.read_global_concurrency_limit_by_name(name)
    assert (limit.limit, limit.slot_decay_per_second) == (2, 10.0)


# -- cost of one call, and events ---------------------------------------------------------------------


def _acquired_events(api_url: str, limit_id) -> list[dict]:
    body = {"filter": {"resource": {"id": [f"prefect.concurrency-limit.{limit_id}"]}}, "limit": 50}
    # Through `rest`: retried on 503, which the server answers while its SQLite database is locked for a moment.
    page = rest({"PREFECT_API_URL": api_url}, "POST", "/events/filter", body)
    return [e for e in page["events"] if e["event"] == "prefect.concurrency-limit.acquired"]


CONTROL = r"""
import sys
from prefect.concurrency.sync import rate_limit
from tools.prefect_server import flush_prefect_workers
rate_limit(sys.argv[1], occupy=1)
flush_prefect_workers()
"""


def test_direct_increment_round_trip_and_no_event(api_url, prefect):
    name = fresh_name("rtt")
    prefect.upsert_global_concurrency_limit_by_name(name, 100_000, 1_000_000.0)  # never a 423
    limit_id = prefect.read_global_concurrency_limit_by_name(name).id
    timings = []
    for _ in range(50):
        began = time.perf_counter()
        prefect.increment_concurrency_slots(names=[name], slots=1, mode="rate_limit")
        timings.append(time.perf_counter() - began)

    # A control: Prefect's own rate_limit(), in a process of its own (this one's Prefect services
    # may point at another test's API), emits "prefect.concurrency-limit.acquired" for the same
    # limit. Once that one event is stored, an event from the 50 direct calls would be too.
    env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_LOGGING_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-c", CONTROL, name], cwd=ROOT, env=env, check=True, timeout=60)
    deadline = time.monotonic() + 60  # the server stores events in batches (every 5 s), later on a loaded machine
    while not (events := _acquired_events(api_url, limit_id)) and time.monotonic() < deadline:
        time.sleep(0.5)
    print(f"\ndirect increment: median {statistics.median(timings) * 1000:.1f} ms over 50 calls "
          f"(min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f}); 'acquired' events stored: "
          f"{len(events)} (1 expected, from the rate_limit() control)")
    assert len(events) == 1
