"""The client at SpotDraft's quota, over real HTTP: the sandbox answers 429 with Retry-After from a token
bucket per credential pair, and the client is not told its rate (or is, with SPOTDRAFT_RATE_LIMIT)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from client import RateLimitSettings, SpotDraftClient
from client.errors import RateLimitedError


def hammer(client: SpotDraftClient, ids: list[str], calls: int, threads: int = 8) -> None:
    def one(i: int) -> None:
        client.call("get_contract_status", path_params={"composite_id": ids[i % len(ids)]})

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(calls)))


def throttled(sandbox) -> int:
    return sum(1 for r in sandbox.request_log() if r.status == 429)


def test_the_adaptive_limiter_finds_the_quota_and_keeps_429s_rare(sandbox):
    sandbox.set_faults(rate_limit=40, p_latency=1.0, latency_ms=20)
    ids = [c["composite_id"] for c in sandbox.snapshot()]
    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url,
                         rate_limit=RateLimitSettings(rate_limit=None)) as client:
        started = time.monotonic()
        hammer(client, ids, 400)  # 8 threads at 20 ms could send 400/s: ten times the quota
        seconds = time.monotonic() - started
        estimate = client.limiter.climb.estimate
    answered = sum(1 for r in sandbox.request_log() if r.status == 200)
    print(f"400 calls in {seconds:.1f}s, {throttled(sandbox)} 429s, quota estimated at {estimate:.1f}/s")
    assert answered == 400  # every call succeeded, after its 429s
    assert throttled(sandbox) <= 20  # without the limiter: thousands (each thread retrying on its own)
    assert 25 <= estimate <= 48


def test_a_fixed_rate_at_the_quota_gets_no_429(sandbox):
    sandbox.set_faults(rate_limit=40)
    ids = [c["composite_id"] for c in sandbox.snapshot()]
    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url,
                         rate_limit=RateLimitSettings(rate_limit=40)) as client:
        started = time.monotonic()
        hammer(client, ids, 120)
        seconds = time.monotonic() - started
    assert throttled(sandbox) == 0
    assert seconds >= 119 / 40 * 0.95  # paced: never faster than the rate


def test_one_429_holds_every_thread_for_a_retry_after_over_a_second(sandbox):
    ids = [c["composite_id"] for c in sandbox.snapshot()]
    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url) as client:
        hammer(client, ids, 10, threads=2)  # warm up
        sandbox.reset_log()
        sandbox.script("GET", r"/status$", 429, times=1, headers={"Retry-After": "2"})
        hammer(client, ids, 60, threads=6)
    log = sandbox.request_log()
    [refused] = [r for r in log if r.status == 429]
    in_flight = [r for r in log if refused.time < r.time <= refused.time + 0.05]
    during = [r for r in log if refused.time + 0.05 < r.time < refused.time + 1.95]
    assert len(in_flight) <= 5  # sent by the other threads before the 429 came back
    assert during == []  # then the other five threads waited too
    assert sum(1 for r in log if r.status == 200) == 60


def test_a_request_waiting_at_the_limiter_when_a_long_retry_after_arrives_fails_unsent(monkeypatch, sandbox):
    """SPOTDRAFT_RETRY_WINDOW=5; a request waits for its slot at 1 request/s when another thread's 429
    asks for 30 s: it fails at once, unsent, instead of being sent 30 s later, past its window."""
    monkeypatch.setenv("SPOTDRAFT_RETRY_WINDOW", "5")
    ids = [c["composite_id"] for c in sandbox.snapshot()]
    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url,
                         rate_limit=RateLimitSettings(rate_limit=1)) as client:
        client.call("get_contract_status", path_params={"composite_id": ids[0]})  # the next slot is 1 s away
        sandbox.script("GET", r"/status$", 429, times=1, headers={"Retry-After": "30"})
        outcomes: dict[str, tuple[BaseException | None, float]] = {}

        def call(name: str, composite_id: str) -> None:
            began = time.monotonic()
            try:
                client.call("get_contract_status", path_params={"composite_id": composite_id})
                outcomes[name] = (None, time.monotonic() - began)
            except Exception as error:
                outcomes[name] = (error, time.monotonic() - began)

        first = threading.Thread(target=call, args=("first", ids[1]))  # sent in 1 s, answered 429
        first.start()
        time.sleep(0.2)
        waiting = threading.Thread(target=call, args=("waiting", ids[2]))  # its slot is 2 s away
        waiting.start()
        first.join(60)
        waiting.join(60)
    error, took = outcomes["waiting"]
    assert isinstance(error, RateLimitedError), error
    assert took < 5  # before the fix: sent after about 30 s
    assert "not sent" in str(error) and "retry window" in str(error)
    c = error.context
    assert (c.operation, c.method, c.attempts) == ("get_contract_status", "GET", 0)
    assert c.path == f"/api/v2.1/public/contracts/{ids[2]}/status"
    assert c.retry_after is not None and 25 <= c.retry_after <= 30
    assert c.extra.get("retryable") is False
    assert isinstance(outcomes["first"][0], RateLimitedError)  # its own 429: 30 s is longer than its window
    assert [r.status for r in sandbox.request_log()] == [200, 429]  # the waiting request never went out


def test_a_bad_rate_limit_setting_is_refused_before_any_request(monkeypatch, sandbox):
    monkeypatch.setenv("SPOTDRAFT_RATE_LIMIT", "fast")
    with pytest.raises(ValueError, match="rate_limit"):
        SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url)
    monkeypatch.setenv("SPOTDRAFT_RATE_LIMIT", "0")
    with pytest.raises(ValueError, match="rate_limit"):
        SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url)
    assert sandbox.request_log() == []


def test_a_fixed_rate_is_shared_through_a_prefect_limit_named_after_the_credentials(monkeypatch, sandbox,
                                                                                    prefect_api):
    from prefect.client.orchestration import get_client

    from blocks import SpotDraftCredentials

    monkeypatch.setenv("SPOTDRAFT_RATE_LIMIT", "30")
    credentials = SpotDraftCredentials(client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                                       base_url=sandbox.base_url)
    client = credentials.get_client()
    quota = client.limiter.shared_quota
    assert quota is not None and sandbox.client_secret not in quota.name
    ids = [c["composite_id"] for c in sandbox.snapshot()]
    hammer(client, ids, 30, threads=4)
    assert quota.grants >= 30 // quota.batch
    with get_client(sync_client=True) as prefect:
        limit = prefect.read_global_concurrency_limit_by_name(quota.name)
    assert limit.slot_decay_per_second == 30
    assert "fixed 30/s, shared through the Prefect limit" in client.limiter.describe()


def _operator_sets(name: str, capacity: int, rate: float, **update) -> None:
    """What an operator (or another process) does to the Prefect limit before this process uses it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    with get_client(sync_client=True) as prefect:
        prefect.upsert_global_concurrency_limit_by_name(name, capacity, rate)
        if update:
            prefect.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(**update))


def _shared_limit_name(sandbox) -> str:
    import httpx

    from blocks.shared_quota import quota_name

    return quota_name(sandbox.client_id, httpx.URL(sandbox.base_url).netloc.decode())


def test_a_request_waiting_for_a_shared_token_fails_unsent_when_its_window_ends(monkeypatch, sandbox, prefect_api):
    """SPOTDRAFT_RATE_LIMIT=0.2 shared through Prefect (one slot every 5 s), the slot just taken by another
    process, and a 2 s window: the request gives up at 2 s, unsent, instead of going out 5 s later."""
    from prefect.client.orchestration import get_client

    from blocks import SpotDraftCredentials

    monkeypatch.setenv("SPOTDRAFT_RATE_LIMIT", "0.2")
    monkeypatch.setenv("SPOTDRAFT_RETRY_WINDOW", "2")
    name = _shared_limit_name(sandbox)
    _operator_sets(name, 1, 0.2)
    with get_client(sync_client=True) as prefect:  # another process takes the one slot
        prefect.increment_concurrency_slots(names=[name], slots=1, mode="rate_limit")
    client = SpotDraftCredentials(client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                                  base_url=sandbox.base_url).get_client()
    assert client.limiter.shared_quota is not None and client.limiter.shared_quota.name == name
    began = time.monotonic()
    with pytest.raises(RateLimitedError) as caught:
        client.call("get_contract_status", path_params={"composite_id": sandbox.snapshot()[0]["composite_id"]})
    took = time.monotonic() - began
    assert 1.5 <= took < 4, took
    assert name in str(caught.value) and "not sent" in str(caught.value)
    c = caught.value.context
    assert (c.operation, c.method, c.attempts, c.extra.get("retryable")) == ("get_contract_status", "GET", 0, False)
    assert sandbox.request_log() == []


def test_a_shared_limit_set_to_capacity_0_is_refused_with_one_clear_warning_before_any_request(
        monkeypatch, sandbox, prefect_api, caplog):
    """An operator set the credentials' Prefect limit to capacity 0: the client says so once, naming the limit
    and how to fix it, before its first request, leaves the operator's setting as it is, and paces itself
    alone at SPOTDRAFT_RATE_LIMIT (before: the setting was silently overwritten)."""
    from prefect.client.orchestration import get_client

    from blocks import SpotDraftCredentials

    monkeypatch.setenv("SPOTDRAFT_RATE_LIMIT", "20")
    name = _shared_limit_name(sandbox)
    _operator_sets(name, 4, 20.0, limit=0)
    client = SpotDraftCredentials(client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                                  base_url=sandbox.base_url).get_client()
    ids = [c["composite_id"] for c in sandbox.snapshot()]
    hammer(client, ids, 10, threads=2)
    warnings = [r for r in caplog.records if r.name == "spotdraft.client.ratelimit" and name in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    message = warnings[0].getMessage()
    assert "capacity is 0" in message and f"prefect global-concurrency-limit update {name} --limit 4" in message
    assert sandbox.client_secret not in message
    first_request = min(r.time for r in sandbox.request_log())
    assert warnings[0].created <= first_request  # said before any request went out
    assert client.limiter.shared_quota is None and "shared" not in client.limiter.describe()
    assert [r.status for r in sandbox.request_log()] == [200] * 10
    with get_client(sync_client=True) as prefect:
        limit = prefect.read_global_concurrency_limit_by_name(name)
    assert (limit.limit, limit.active_slots) == (0, 0)  # the operator's setting stands; no slot was asked for
