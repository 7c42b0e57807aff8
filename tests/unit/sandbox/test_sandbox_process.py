"""`SandboxProcess`: the sandbox in a child process, started, controlled over its admin routes and stopped
(or killed), with the same knobs as the in-process one."""

from __future__ import annotations

import time

from sandbox import SandboxProcess
from tests.support.sandbox_http import LIST, V21, api_client, create_body


def test_subprocess_start_admin_stop_and_throughput():
    with SandboxProcess(contracts=40, seed=9, http_port=True) as sp:
        assert sp.base_url.startswith("http://127.0.0.1:") and sp.http_url
        with api_client(sp) as c:
            assert c.get(LIST).json()["total_results"] == 40
            sp.touch(1000, name="Touched")
            sp.add_contracts(2)
            sp.delete_contract(1001)
            ids = [x["id"] for x in sp.snapshot()]
            assert len(ids) == 41 and 1001 not in ids
            sp.script("GET", "templates", 502)
            assert c.get(f"{V21}/templates/").status_code == 502
            assert sp.request_counts()[f"GET {V21}/templates/"] == 1
            sp.set_faults(p_5xx=1.0)
            assert c.get(f"{V21}/templates/").status_code >= 500
            sp.set_faults(p_5xx=0.0)
            n, started = 2000, time.perf_counter()
            for _ in range(n):
                c.get(f"{V21}/contracts/T-1002/status")
            rate = n / (time.perf_counter() - started)
            print(f"\nsandbox throughput, one httpx.Client, sequential GETs: {rate:.0f} requests/second")
        assert sp.stop() == 0
    killed = SandboxProcess(contracts=3, seed=1).start()
    assert killed.kill() == -9


def test_subprocess_duplicate_rule_poison_and_counts():
    with SandboxProcess(contracts=4, seed=9, duplicate_rule=False) as sp, api_client(sp) as c:
        assert sp.duplicate_rule is False
        assert c.post(LIST, json=create_body("crm-p")).status_code == 201
        assert c.post(LIST, json=create_body("crm-p")).status_code == 201
        assert sp.external_id_counts()["crm-p"] == 2 and len(sp.duplicates()["crm-p"]) == 2
        sp.duplicate_rule = True
        assert c.post(LIST, json=create_body("crm-p")).status_code == 409
        poisoned = sp.poison(1000, contract_name={"x": 1}, remove=["contract_status"])
        assert poisoned["poison"]["removed"] == ["contract_status"]
        added = sp.add_contracts(1, overrides={"contract_type_id": "abc"})
        assert added[0]["poison"]["fields"] == {"contract_type_id": "abc"}
        items = {x["id"]: x for x in c.get(LIST).json()["results"]}
        assert items[poisoned["composite_id"]]["contract_name"] == {"x": 1}
        assert "contract_status" not in items[poisoned["composite_id"]]
        sp.set_faults(p_contradictory_page=1.0)
        assert c.get(LIST, params={"limit": 2}).json()["total_results"] == 7


def test_every_fault_setting_reaches_a_sandbox_process_command_line():
    """SandboxProcess passes its Faults as flags: each non-default value (a switch turned off included)
    must parse back to itself, or the child refuses to start (--rate-retry-after False did)."""
    from dataclasses import fields

    from sandbox import Faults
    from sandbox.__main__ import parse_args
    from sandbox.process import fault_args

    changed = {"rate_limit": 7.0, "rate_burst": 2.0, "rate_shape": "sliding", "rate_window_s": 60.0,
               "rate_retry_after": False, "p_latency": 1.0, "latency_ms": 300.0, "ambiguous_mode": "drop",
               "seed": 3}
    args = parse_args(fault_args(Faults(**changed)))
    for f in fields(Faults):
        assert getattr(args, f"fault_{f.name}") == changed.get(f.name, f.default), f.name
