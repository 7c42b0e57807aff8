"""The sandbox fails exactly when and how it is told to: rate limits and 429 storms, random faults of each
kind (reproducible from the seed), ambiguous and slow writes that still commit, scripted outcomes in
order, contradictory list pages and poison records that lie in list answers only.
Real HTTP over loopback; each test starts its own sandbox."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from sandbox import Faults, Sandbox
from tests.support.sandbox_http import LIST, V21, api_client, create_body


def test_rate_limit_answers_429_with_retry_after():
    with Sandbox(contracts=3, seed=1, faults=Faults(rate_limit=5)) as sb, api_client(sb) as c:
        statuses = [c.get(f"{V21}/templates/") for _ in range(12)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited and statuses[0].status_code == 200
        for r in limited:
            assert int(r.headers["retry-after"]) >= 1 and r.json()["detail"]
        other = httpx.get(f"{sb.base_url}{V21}/templates/", headers={"client-id": "x", "client-secret": "y"})
        assert other.status_code == 401  # a different credential pair has its own bucket
        time.sleep(1.1)
        assert c.get(f"{V21}/templates/").status_code == 200


def test_random_faults_each_kind_is_observable():
    path = f"{V21}/contracts/T-1000/status"
    with Sandbox(contracts=3, seed=1, faults=Faults(p_5xx=1.0)) as sb, api_client(sb) as c:
        codes = {c.get(path).status_code for _ in range(20)}
        assert codes <= {500, 502, 503, 504} and len(codes) > 1
        assert c.get(path).json()["detail"]
        sb.set_faults(p_5xx=0.0, p_html_502=1.0)
        html = c.get(path)
        assert html.status_code == 502 and html.headers["content-type"].startswith("text/html")
        sb.set_faults(p_html_502=0.0, p_bad_json=1.0)
        for _ in range(4):
            bad = c.get(path)
            assert bad.status_code == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(bad.content)
        sb.set_faults(p_bad_json=0.0, p_drop=1.0)
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(path)
        sb.set_faults(p_drop=0.0, p_latency=1.0, latency_ms=300)
        started = time.perf_counter()
        assert c.get(path).status_code == 200
        assert time.perf_counter() - started >= 0.29
        sb.set_faults(p_latency=0.0, p_timeout=1.0, timeout_sleep_s=30)
        with pytest.raises(httpx.ReadTimeout):
            c.get(path, timeout=0.3)
        assert sb.requests[-1].status == "timeout"
        stopping = time.perf_counter()
    assert time.perf_counter() - stopping < 5  # a held request does not hold up shutdown


def test_ambiguous_write_is_committed_then_answered_504_or_dropped():
    faults = Faults(p_ambiguous_write=1.0, ambiguous_mode="504")
    with Sandbox(contracts=3, seed=1, faults=faults) as sb, api_client(sb) as c:
        assert c.get(LIST).status_code == 200  # reads are not affected
        lost = c.post(LIST, json=create_body("crm-amb-1"))
        assert lost.status_code == 504
        found = c.get(f"{V21}/contracts/by_external_metadata/crm-amb-1").json()
        assert len(found) == 1  # the write happened
        sb.set_faults(ambiguous_mode="drop")
        with pytest.raises(httpx.RemoteProtocolError):
            c.post(LIST, json=create_body("crm-amb-2"))
        assert len(c.get(f"{V21}/contracts/by_external_metadata/crm-amb-2").json()) == 1


def test_random_faults_are_reproducible_from_the_seed():
    def run(seed):
        faults = Faults(p_5xx=0.2, p_html_502=0.1, p_bad_json=0.1)
        with Sandbox(contracts=3, seed=seed, faults=faults) as sb, api_client(sb) as c:
            return [c.get(f"{V21}/templates/").status_code for _ in range(40)]

    first, again, other = run(21), run(21), run(22)
    assert first == again
    assert first != other
    assert any(code != 200 for code in first)


def test_script_gives_exact_outcomes_in_order():
    status = f"{V21}/contracts/T-1000/status"
    with Sandbox(contracts=3, seed=1, faults=Faults(p_5xx=0.0)) as sb, api_client(sb) as c:
        sb.script("GET", r"/status$", 503, times=2)
        sb.script("GET", r"/status$", 429, headers={"Retry-After": "7"})
        sb.script("*", r"/status$", "drop")
        assert [c.get(status).status_code for _ in range(3)] == [503, 503, 429]
        assert sb.requests[-1].fault == "script:429"
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(status)
        assert c.get(status).status_code == 200
        sb.script("POST", r"/contracts/$", "ambiguous")
        assert c.post(LIST, json=create_body("crm-s1")).status_code == 504
        assert len(c.get(f"{V21}/contracts/by_external_metadata/crm-s1").json()) == 1
        sb.script("GET", "templates", 200, body={"items": []})
        assert c.get(f"{V21}/templates/").json() == {"items": []}
        retry = httpx.post(
            f"{sb.base_url}/_sandbox/script",
            json={"method": "GET", "path_regex": "templates", "outcome": 429, "times": 1},
        )
        assert retry.status_code == 201
        limited = c.get(f"{V21}/templates/")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        with pytest.raises(ValueError):
            sb.script("GET", ".", "explode")


def test_contradictory_pages_scripted_and_random():
    with Sandbox(contracts=25, seed=2) as sb, api_client(sb) as c:
        sb.script("GET", r"/contracts/$", "empty_page")
        sb.script("GET", r"/contracts/$", "short_page")
        empty = c.get(LIST, params={"limit": 10}).json()
        assert empty["results"] == [] and empty["total_results"] == 25
        short = c.get(LIST, params={"limit": 10}).json()
        assert len(short["results"]) == 5 and short["total_results"] == 25
        assert sb.requests[-1].fault == "script:short_page"
        assert len(c.get(LIST, params={"limit": 10}).json()["results"]) == 10
        sb.script("GET", r"/status$", "empty_page")  # not a list answer: passes unchanged
        assert c.get(f"{V21}/contracts/T-1000/status").json()["contract_status"]
        sb.script("GET", r"/counter_parties/$", "empty_page")
        parties = c.get(f"{V21}/counter_parties/").json()
        assert parties["results"] == [] and parties["total_results"] > 0

    def run(seed):
        with Sandbox(contracts=25, seed=2, faults=Faults(p_contradictory_page=0.5, seed=seed)) as sb, \
                api_client(sb) as c:
            return [len(c.get(LIST, params={"limit": 10}).json()["results"]) for _ in range(30)]

    first = run(5)
    assert first == run(5) and set(first) == {0, 5, 10}


def test_poison_records_lie_in_list_answers_only():
    with Sandbox(contracts=5, seed=3) as sb, api_client(sb) as c:
        before = sb.snapshot()[1]
        sb.poison(before["id"], contract_name={"en": "Name", "fr": "Nom"}, contract_type_id="abc",
                  counter_party_name="Nul\x00Byte", remove=["contract_status"])
        added = sb.add_contracts(2, overrides={"contract_type_id": 2**70, "contract_status": None})
        nameless = sb.add_contracts(1, remove=["id"])[0]
        page = c.get(LIST).json()
        assert page["total_results"] == 8
        items = {x.get("id"): x for x in page["results"]}
        bad = items[before["composite_id"]]
        assert bad["contract_name"] == {"en": "Name", "fr": "Nom"} and bad["contract_type_id"] == "abc"
        assert bad["counter_party_name"] == "Nul\x00Byte" and "contract_status" not in bad
        for contract in added:
            item = items[contract.composite_id]
            assert item["contract_type_id"] == 2**70 and item["contract_status"] is None
        assert None in items and items[None]["reference_id"] == nameless.reference_id
        # the truth stays: the snapshot and the per-contract answers are sane, and say how the list lies
        truth = next(x for x in sb.snapshot() if x["id"] == before["id"])
        assert truth["contract_name"] == before["contract_name"] and truth["contract_status"]
        assert truth["poison"] == {"fields": {"contract_name": {"en": "Name", "fr": "Nom"}, "contract_type_id": "abc",
                                              "counter_party_name": "Nul\x00Byte"}, "removed": ["contract_status"]}
        assert truth["last_updated_on"] > before["last_updated_on"]  # an incremental sync reads it
        status = c.get(f"{V21}/contracts/{before['composite_id']}/status").json()
        assert status["contract_name"] == before["contract_name"]
        assert "poison" not in sb.snapshot()[0]


def test_429_storms_with_and_without_retry_after():
    with Sandbox(contracts=3, seed=1, faults=Faults(p_429=1.0, retry_after_s=2)) as sb, api_client(sb) as c:
        limited = c.get(f"{V21}/templates/")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
        sb.set_faults(p_429=0.0, p_429_bare=1.0)
        bare = c.get(f"{V21}/templates/")
        assert bare.status_code == 429 and "retry-after" not in bare.headers and bare.json()["detail"]
        sb.set_faults(p_429_bare=0.0)
        sb.script("GET", "templates", 429, headers={"Retry-After": None})
        scripted = c.get(f"{V21}/templates/")
        assert scripted.status_code == 429 and "retry-after" not in scripted.headers


def test_slow_answers_are_carried_out_then_answered_after_the_read_timeout():
    with Sandbox(contracts=3, seed=1, faults=Faults(timeout_sleep_s=1.0)) as sb, api_client(sb) as c:
        sb.script("POST", r"/contracts/$", "slow")
        with pytest.raises(httpx.ReadTimeout):
            c.post(LIST, json=create_body("crm-slow"), timeout=0.3)
        assert len(c.get(f"{V21}/contracts/by_external_metadata/crm-slow").json()) == 1  # it committed
        sb.script("GET", r"/status$", "slow")
        started = time.perf_counter()
        assert c.get(f"{V21}/contracts/T-1000/status", timeout=5).status_code == 200
        assert time.perf_counter() - started >= 0.95
        sb.set_faults(p_slow=1.0, timeout_sleep_s=30)
        with pytest.raises(httpx.ReadTimeout):
            c.get(f"{V21}/templates/", timeout=0.3)
        stopping = time.perf_counter()
    assert time.perf_counter() - stopping < 5


def test_the_existing_fault_kinds_the_matrix_uses_are_all_there():
    """5xx, HTML 502, drop, timeout, truncated and invalid JSON, ambiguous 504 and drop, a 403 for one
    contract only (by path), and draws that stay where they were for the seeds older tests rely on."""
    with Sandbox(contracts=5, seed=1) as sb, api_client(sb) as c:
        sb.script("*", r"/contracts/T-1001/", 403, times=3)
        assert c.get(f"{V21}/contracts/T-1001/status").status_code == 403
        assert c.get(f"{V21}/contracts/T-1000/status").status_code == 200
        assert c.get(f"{V21}/contracts/T-1001/key_pointers").status_code == 403
        sb.set_faults(p_bad_json=1.0)
        bodies = {c.get(LIST).content for _ in range(12)}
        assert any(b.startswith(b"<!DOCTYPE html>") for b in bodies)  # not JSON at all
        assert any(b.startswith(b'{"page"') for b in bodies)  # JSON cut short
    old = Faults(p_5xx=0.2, p_html_502=0.1, p_bad_json=0.1, seed=9)
    new = Faults(p_5xx=0.2, p_html_502=0.1, p_bad_json=0.1, p_429=0.0, p_contradictory_page=0.0, seed=9)

    def codes(faults):
        with Sandbox(contracts=3, seed=1, faults=faults) as sb, api_client(sb) as c:
            return [c.get(f"{V21}/templates/").status_code for _ in range(30)]

    assert codes(old) == codes(new)
