"""The sandbox answers like SpotDraft's spec says, behaves where the flows depend on it, and
fails exactly when and how it is told to. Real HTTP over loopback; each test starts its own."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox import Faults, Sandbox, SandboxProcess
from sandbox.routes import load_answers
from tests.support.paths import ROOT, SPEC_PATH, require_spec
from tools.synthesize_answers import (
    build,
    iter_operations,
    render,
    response_validator,
    success_schema,
)

V21 = "/api/v2.1/public"
LIST = f"{V21}/contracts/"
UPLOADS = f"{V21}/workspace/files/uploads/"
ANSWERS = load_answers()
# A subscription the sandbox accepts (it validates registrations as the spec says); the DELETE after it removes it.
HOOK = {"title": "conformance", "url": "https://127.0.0.1:9/hook", "only_for_activities": ["CONTRACT_VOIDED"]}


@pytest.fixture(scope="module")
def spec():
    require_spec()
    from tools.synthesize_answers import load_spec

    return load_spec(SPEC_PATH)


def _schema(spec, method: str, path: str):
    return success_schema(spec["paths"][path][method.lower()])[2]


def _assert_valid(spec, method: str, path: str, value) -> None:
    errors = sorted(response_validator(spec, _schema(spec, method, path)).iter_errors(value), key=str)
    assert not errors, f"{method} {path}: {errors[0].message} at {list(errors[0].absolute_path)}"


def _client(sb, **headers) -> httpx.Client:
    return httpx.Client(base_url=sb.base_url, headers={**sb.headers, **headers}, timeout=10)


def _create_body(external_id: str | None = None, template_id: int = 100) -> dict:
    body = {
        "contract_template_id": template_id,
        "contract_data": {"effective_date": "2025-02-01"},
        "counter_party_details": [
            {
                "is_individual": False,
                "organization_name": "Acme Widgets Ltd.",
                "poc_details": {"first_name": "Ada", "last_name": "Lane", "email": "ada@acme.example"},
            }
        ],
    }
    if external_id is not None:
        body["external_metadata"] = {"id": external_id, "source": "crm"}
    return body


# ---------------------------------------------------------------------------- the spec, all of it


def test_answers_cover_every_operation_of_the_spec(spec):
    documented = {(m, p) for m, p, _ in iter_operations(spec)}
    served = {(op["method"], op["path"]) for op in ANSWERS["operations"]}
    assert served == documented
    assert len(served) == 182
    versions = [op["version"] for op in ANSWERS["operations"]]
    assert (versions.count("v2.1"), versions.count("v2"), versions.count("v1")) == (102, 56, 24)


def test_answers_json_is_what_the_tool_writes(spec):
    assert (ROOT / "sandbox" / "answers.json").read_text(encoding="utf-8") == render(build(spec))


def _concrete(path: str, external_id: str, file_id: str = "1") -> str:
    values = {
        "composite_id": "T-1000",
        "contract_id": "1000",
        "template_id": "100",
        "counterparty_id": "500",
        "external_metadata_id": external_id,
        "file_id": file_id,
    }
    out = path
    for name in [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]:
        out = out.replace("{" + name + "}", values.get(name, "1"))
    return out


def _auth_for(op, sb) -> dict[str, str]:
    schemes = {s for req in op["security"] for s in req}
    headers = dict(sb.headers)
    if "ClickwrapId" in schemes:
        headers |= {"clickwrap-id": "cw-1", "origin": "https://shop.example"}
    if schemes == {"NativeIntegrationBasic"}:
        token = base64.b64encode(f"{sb.client_id}:{sb.client_secret}".encode()).decode()
        headers = {"authorization": f"Basic {token}"}
    return headers


def test_every_operation_answers_its_documented_status_and_schema(spec):
    with Sandbox(contracts=30, seed=3) as sb:
        contract = sb.state.get(1000)
        assert contract is not None and contract.kind == "T"
        external_id = "crm-conformance-1"
        contract.external_metadata = {"id": external_id}
        contract.changed()
        with httpx.Client(base_url=sb.base_url, timeout=10) as client:
            # Workspace files are stateful: one is uploaded first so that its download URL exists.
            new_file = {"files": [{"filename": "a.pdf", "content_type": "application/pdf"}]}
            [slot] = client.post(UPLOADS, json=new_file, headers=sb.headers).json()["files"]
            stored = httpx.put(slot["upload_url"], content=b"%PDF", headers={"content-type": "application/pdf"})
            assert stored.is_success
            for op in ANSWERS["operations"]:
                method, path = op["method"], op["path"]
                body = None
                if op["request_body"] is not None:
                    fresh = f"crm-new-{method}-{path}"
                    body = {("POST", LIST): _create_body(fresh), ("POST", UPLOADS): new_file,
                            ("POST", f"{V21}/webhooks/"): HOOK,
                            ("POST", f"{V21}/analytics/query/"): {"query": "SELECT * FROM contracts"},
                            }.get((method, path), {})
                url = _concrete(path, external_id, slot["file_id"])
                response = client.request(method, url, json=body, headers=_auth_for(op, sb))
                assert response.status_code == op["status"], (method, url, response.text[:300])
                assert response.headers["x-request-id"]
                assert response.headers["x-sd-workspace-id"] == "1"
                if op["kind"] == "json":
                    _assert_valid(spec, method, path, response.json())
                elif op["kind"] == "binary":
                    assert response.headers["content-type"] in (
                        "application/pdf",
                        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    )
                    assert len(response.content) >= 1024
                else:
                    assert response.content == b""


def test_stateful_answers_validate_against_the_spec(spec):
    with Sandbox(contracts=120, seed=5) as sb, _client(sb) as c:
        page = c.get(LIST, params={"limit": 100, "page": 1}).json()
        _assert_valid(spec, "GET", LIST, page)
        assert len(page["results"]) == 100
        tagged = next(x for x in sb.snapshot() if x["external_metadata"].get("id"))
        found = c.get(f"{V21}/contracts/by_external_metadata/{tagged['external_metadata']['id']}").json()
        assert [x["id"] for x in found] == [tagged["id"]]
        _assert_valid(spec, "GET", f"{V21}/contracts/by_external_metadata/{{external_metadata_id}}", found)
        for item in page["results"][:10]:
            cid = item["id"]
            _assert_valid(
                spec,
                "GET",
                f"{V21}/contracts/{{composite_id}}/status",
                c.get(f"{V21}/contracts/{cid}/status").json(),
            )
            pointers = c.get(f"{V21}/contracts/{cid}/key_pointers").json()
            assert pointers
            _assert_valid(spec, "GET", f"{V21}/contracts/{{composite_id}}/key_pointers", pointers)
        _assert_valid(spec, "GET", f"{V21}/templates/", c.get(f"{V21}/templates/").json())
        parties = c.get(f"{V21}/counter_parties/", params={"limit": 100}).json()
        _assert_valid(spec, "GET", f"{V21}/counter_parties/", parties)
        assert parties["total_results"] == len(sb.state.counterparties)
        v1 = c.get("/api/v1/public/contracts", params={"limit": 5}).json()
        _assert_valid(spec, "GET", "/api/v1/public/contracts", v1)
        created = c.post(LIST, json=_create_body("crm-77"))
        assert created.status_code == 201
        _assert_valid(spec, "POST", LIST, created.json())


# ---------------------------------------------------------------------------- data


def test_same_seed_same_bytes_different_seed_different_data():
    bodies = []
    for seed in (11, 11, 12):
        with Sandbox(contracts=60, seed=seed) as sb, _client(sb) as c:
            listed = c.get(LIST, params={"limit": 100}).content
            pointers = c.get(f"{V21}/contracts/T-1001/key_pointers").content
            bodies.append((listed, pointers))
    assert bodies[0] == bodies[1]
    assert bodies[0][0] != bodies[2][0]


def test_pagination_covers_every_contract_exactly_once():
    with Sandbox(contracts=237, seed=2) as sb, _client(sb) as c:
        seen, page = [], 1
        while True:
            body = c.get(LIST, params={"page": page, "limit": 100}).json()
            assert body["total_results"] == 237 and body["page"] == page and body["limit"] == 100
            if not body["results"]:
                break
            seen += [x["id"] for x in body["results"]]
            page += 1
        assert page == 4
        assert len(seen) == len(set(seen)) == 237
        assert [int(x.split("-")[1]) for x in seen] == sorted(sb.state.contracts)
        assert c.get(LIST).json()["limit"] == 10  # documented default
        for bad in ({"limit": 0}, {"limit": 101}, {"page": 0}, {"limit": "ten"}):
            assert c.get(LIST, params=bad).status_code == 400, bad


def test_filters_select_what_they_say():
    with Sandbox(contracts=200, seed=4) as sb, _client(sb) as c:

        def ids(**params):
            params.setdefault("limit", 100)
            out, page = [], 1
            while True:
                body = c.get(LIST, params={**params, "page": page}).json()
                out += [x["id"] for x in body["results"]]
                if page * 100 >= body["total_results"]:
                    return out
                page += 1

        snapshot = {x["composite_id"]: x for x in sb.snapshot()}
        watermark = datetime.now(UTC) - timedelta(seconds=1)
        assert ids(**{"filter__last_updated_on[$gte]": watermark.isoformat()}) == []
        sb.touch(1003, name="Renamed")
        sb.touch(1150, status="VOIDED")
        touched = ids(**{"filter__last_updated_on[$gte]": watermark.isoformat().replace("+00:00", "Z")})
        assert [int(x.split("-")[1]) for x in touched] == [1003, 1150]
        middle = "2024-08-01T00:00:00Z"
        after = ids(**{"filter__created_at[$gt]": middle})
        before = ids(**{"filter__created_at[$lte]": middle})
        assert sorted(after + before) == sorted(snapshot) and after and before
        type_ids = ids(filter__contract_type_id="10")
        assert type_ids == [k for k, v in snapshot.items() if v["contract_type_id"] == 10]
        statuses = {x["composite_id"]: x["contract_status"] for x in sb.snapshot()}
        assert ids(filter__display_status="EXECUTED") == [k for k, v in statuses.items() if v == "EXECUTED"]
        both = ids(**{"filter__display_status[$in]": "DRAFT,VOIDED"})
        assert both == [k for k, v in statuses.items() if v in ("DRAFT", "VOIDED")]
        assert c.get(LIST, params={"filter__nonsense": "1"}).status_code == 400
        assert c.get(LIST, params={"filter__created_at[$gte]": "yesterday"}).status_code == 400
        assert c.get(LIST, params={"filter__display_status": "LOST"}).status_code == 400
        # documented but not evaluated by the sandbox: answered, and said so
        ignored = c.get(LIST, params={"filter__tags": "x"})
        assert ignored.status_code == 200 and ignored.headers["x-sandbox-ignored-filters"] == "filter__tags"


def test_state_changes_show_in_answers():
    with Sandbox(contracts=20, seed=6) as sb, _client(sb) as c:
        first = sb.snapshot()[0]
        before = first["last_updated_on"]
        touched = sb.touch(first["id"], name="Fresh name", status="SIGN")
        assert touched.last_updated_on.isoformat() > before.replace("Z", "+00:00")
        status = c.get(f"{V21}/contracts/{first['composite_id']}/status").json()
        assert status == {"contract_status": "SIGN", "contract_name": "Fresh name"}
        added = sb.add_contracts(3)
        assert c.get(LIST).json()["total_results"] == 23
        assert [a.id for a in added] == [1020, 1021, 1022]
        sb.delete_contract(added[0].id)
        assert c.get(f"{V21}/contracts/{added[0].composite_id}/status").status_code == 404
        assert c.get(LIST).json()["total_results"] == 22
        assert c.get(f"{V21}/contracts/T-99999/status").status_code == 404
        assert c.get(f"{V21}/contracts/X_1/key_pointers").status_code == 400


# ---------------------------------------------------------------------------- auth, paths, redirects


def test_auth_401_403_and_the_secret_never_leaves():
    with Sandbox(contracts=5, seed=1, client_secret="s3cr3t-value-xyz") as sb:
        with httpx.Client(base_url=sb.base_url) as c:
            missing = c.get(LIST)
            assert missing.status_code == 401 and "detail" in missing.json()
            wrong = c.get(LIST, headers={"client-id": sb.client_id, "client-secret": "nope"})
            assert wrong.status_code == 401
            assert (
                c.get(LIST, headers={"client-id": "other", "client-secret": sb.client_secret}).status_code
                == 401
            )
            ok = c.get(LIST, headers={**sb.headers, "user-email": sb.users[1]})
            assert ok.status_code == 200
            stranger = c.get(LIST, headers={**sb.headers, "user-email": "mallory@elsewhere.example"})
            assert stranger.status_code == 403
            for response in (missing, wrong, ok, stranger):
                assert "s3cr3t-value-xyz" not in response.text + str(response.headers)
        assert "admin@sandbox.example" in sb.users
        records = sb.requests
        assert records[3].user_email == sb.users[1]
        assert "s3cr3t-value-xyz" not in repr(records) + repr(sb) + repr(sb.config)
        assert all(r.client_id in (None, sb.client_id, "other") for r in records)


def test_trailing_slash_mismatch_redirects_and_unknown_paths_404():
    with Sandbox(contracts=5, seed=1) as sb, _client(sb) as c:
        no_slash = c.get(f"{V21}/contracts", params={"page": 2})
        assert no_slash.status_code == 302
        assert no_slash.headers["location"] == f"{sb.base_url}{V21}/contracts/?page=2"
        extra_slash = c.post(f"{V21}/contracts/T-1000/status/")
        assert extra_slash.status_code == 302
        assert extra_slash.headers["location"] == f"{sb.base_url}{V21}/contracts/T-1000/status"
        assert c.get(f"{V21}/contracts/T-1000/status").status_code == 200
        unknown = c.get(f"{V21}/nothing/here/")
        assert unknown.status_code == 404 and unknown.json()["detail"]
        assert c.delete(LIST).status_code == 405
        for response in (no_slash, extra_slash, unknown):
            assert response.headers["x-request-id"] and response.headers["x-sd-workspace-id"]
        request_ids = {r.request_id for r in sb.requests}
        assert len(request_ids) == len(sb.requests)


def test_http_listener_redirects_everything_to_https():
    with Sandbox(contracts=5, seed=1, http_port=True) as sb:
        assert sb.http_url and sb.http_url != sb.base_url
        port = sb.base_url.rsplit(":", 1)[1]
        for method in ("GET", "POST"):
            response = httpx.request(method, f"{sb.http_url}{LIST}?limit=5", headers=sb.headers)
            assert response.status_code == 302
            assert response.headers["location"] == f"https://127.0.0.1:{port}{LIST}?limit=5"
        assert sb.requests[-1].listener == "http"
    with Sandbox(contracts=5, seed=1) as sb:
        assert sb.http_url is None


# ---------------------------------------------------------------------------- create


def test_create_then_find_by_external_id_and_duplicate_is_409():
    with Sandbox(contracts=10, seed=8) as sb, _client(sb, **{"user-email": "legal@sandbox.example"}) as c:
        created = c.post(LIST, json=_create_body("crm-0042"))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["contract_status"] == "DRAFT"
        assert body["id"] == f"T-{body['contract_id']}"
        assert body["external_metadata"] == {"id": "crm-0042", "source": "crm"}
        assert body["counter_party_name"] == "Acme Widgets Ltd."
        found = c.get(f"{V21}/contracts/by_external_metadata/crm-0042").json()
        assert [x["id"] for x in found] == [body["contract_id"]]
        assert c.get(f"{V21}/contracts/by_external_metadata/crm-none").json() == []
        duplicate = c.post(LIST, json=_create_body("crm-0042"))
        assert duplicate.status_code == 409
        assert duplicate.json()["contract_ids"] == [body["contract_id"]]
        assert c.get(LIST).json()["total_results"] == 11
        assert sb.state.get(body["contract_id"]).created_by.email == "legal@sandbox.example"


def test_create_rejects_bad_bodies_with_field_errors():
    with Sandbox(contracts=3, seed=1) as sb, _client(sb) as c:
        empty = c.post(LIST, content=b"", headers={"content-type": "application/json"})
        assert empty.status_code == 400
        assert (
            c.post(LIST, content=b"{not json", headers={"content-type": "application/json"}).status_code
            == 400
        )
        missing = c.post(LIST, json={"contract_template_id": "x"})
        assert missing.status_code == 400
        assert set(missing.json()) == {"contract_template_id", "contract_data", "counter_party_details"}
        body = _create_body()
        body["counter_party_details"][0] = {"is_individual": "no", "poc_details": {"first_name": "A"}}
        nested = c.post(LIST, json=body).json()["counter_party_details"][0]
        assert set(nested) == {"is_individual", "poc_details"} and "email" in nested["poc_details"]
        unknown = c.post(LIST, json=_create_body(template_id=9999))
        assert unknown.status_code == 400 and "contract_template_id" in unknown.json()
        generic_required = c.post(f"{V21}/counter_parties/", content=b"")
        assert generic_required.status_code == 400
        assert len(sb.state.contracts) == 3


# ---------------------------------------------------------------------------- faults


def test_rate_limit_answers_429_with_retry_after():
    with Sandbox(contracts=3, seed=1, faults=Faults(rate_limit=5)) as sb, _client(sb) as c:
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
    with Sandbox(contracts=3, seed=1, faults=Faults(p_5xx=1.0)) as sb, _client(sb) as c:
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
    with Sandbox(contracts=3, seed=1, faults=faults) as sb, _client(sb) as c:
        assert c.get(LIST).status_code == 200  # reads are not affected
        lost = c.post(LIST, json=_create_body("crm-amb-1"))
        assert lost.status_code == 504
        found = c.get(f"{V21}/contracts/by_external_metadata/crm-amb-1").json()
        assert len(found) == 1  # the write happened
        sb.set_faults(ambiguous_mode="drop")
        with pytest.raises(httpx.RemoteProtocolError):
            c.post(LIST, json=_create_body("crm-amb-2"))
        assert len(c.get(f"{V21}/contracts/by_external_metadata/crm-amb-2").json()) == 1


def test_random_faults_are_reproducible_from_the_seed():
    def run(seed):
        faults = Faults(p_5xx=0.2, p_html_502=0.1, p_bad_json=0.1)
        with Sandbox(contracts=3, seed=seed, faults=faults) as sb, _client(sb) as c:
            return [c.get(f"{V21}/templates/").status_code for _ in range(40)]

    first, again, other = run(21), run(21), run(22)
    assert first == again
    assert first != other
    assert any(code != 200 for code in first)


def test_script_gives_exact_outcomes_in_order():
    status = f"{V21}/contracts/T-1000/status"
    with Sandbox(contracts=3, seed=1, faults=Faults(p_5xx=0.0)) as sb, _client(sb) as c:
        sb.script("GET", r"/status$", 503, times=2)
        sb.script("GET", r"/status$", 429, headers={"Retry-After": "7"})
        sb.script("*", r"/status$", "drop")
        assert [c.get(status).status_code for _ in range(3)] == [503, 503, 429]
        assert sb.requests[-1].fault == "script:429"
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(status)
        assert c.get(status).status_code == 200
        sb.script("POST", r"/contracts/$", "ambiguous")
        assert c.post(LIST, json=_create_body("crm-s1")).status_code == 504
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


def test_request_log_counts_what_reached_the_server():
    with Sandbox(contracts=3, seed=1) as sb, _client(sb) as c:
        for _ in range(3):
            c.get(f"{V21}/contracts/T-1000/status")
        c.get(LIST, params={"limit": 2})
        counts = sb.request_counts()
        assert counts[f"GET {V21}/contracts/{{composite_id}}/status"] == 3
        assert len(sb.request_log("GET", LIST)) == 1 and sb.request_log("GET", LIST)[0].query == "limit=2"
        admin = httpx.get(f"{sb.base_url}/_sandbox/requests").json()
        assert admin["total"] == 4  # admin calls are not traffic
        sb.reset_log()
        assert sb.requests == []


# ---------------------------------------------------------------------------- process


def test_subprocess_start_admin_stop_and_throughput():
    with SandboxProcess(contracts=40, seed=9, http_port=True) as sp:
        assert sp.base_url.startswith("http://127.0.0.1:") and sp.http_url
        with httpx.Client(base_url=sp.base_url, headers=sp.headers, timeout=10) as c:
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


# ---------------------------------------------------------------------------- what the fault matrix needs


def test_without_the_duplicate_rule_a_second_create_makes_a_second_contract():
    with Sandbox(contracts=3, seed=4, duplicate_rule=False) as sb, _client(sb) as c:
        first = c.post(LIST, json=_create_body("crm-dup"))
        second = c.post(LIST, json=_create_body("crm-dup"))
        assert first.status_code == second.status_code == 201
        assert first.json()["contract_id"] != second.json()["contract_id"]
        found = c.get(f"{V21}/contracts/by_external_metadata/crm-dup").json()
        assert [x["id"] for x in found] == [first.json()["contract_id"], second.json()["contract_id"]]
        assert sb.external_id_counts()["crm-dup"] == 2
        assert sb.duplicates() == {"crm-dup": [first.json()["contract_id"], second.json()["contract_id"]]}
        sb.duplicate_rule = True  # switched live: the rule holds again
        assert c.post(LIST, json=_create_body("crm-dup")).status_code == 409
    with Sandbox(contracts=3, seed=4) as sb:
        assert sb.duplicate_rule is True and sb.duplicates() == {}


def test_contradictory_pages_scripted_and_random():
    with Sandbox(contracts=25, seed=2) as sb, _client(sb) as c:
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
                _client(sb) as c:
            return [len(c.get(LIST, params={"limit": 10}).json()["results"]) for _ in range(30)]

    first = run(5)
    assert first == run(5) and set(first) == {0, 5, 10}


def test_poison_records_lie_in_list_answers_only():
    with Sandbox(contracts=5, seed=3) as sb, _client(sb) as c:
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
    with Sandbox(contracts=3, seed=1, faults=Faults(p_429=1.0, retry_after_s=2)) as sb, _client(sb) as c:
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
    with Sandbox(contracts=3, seed=1, faults=Faults(timeout_sleep_s=1.0)) as sb, _client(sb) as c:
        sb.script("POST", r"/contracts/$", "slow")
        with pytest.raises(httpx.ReadTimeout):
            c.post(LIST, json=_create_body("crm-slow"), timeout=0.3)
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
    with Sandbox(contracts=5, seed=1) as sb, _client(sb) as c:
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
        with Sandbox(contracts=3, seed=1, faults=faults) as sb, _client(sb) as c:
            return [c.get(f"{V21}/templates/").status_code for _ in range(30)]

    assert codes(old) == codes(new)


def test_subprocess_duplicate_rule_poison_and_counts():
    with SandboxProcess(contracts=4, seed=9, duplicate_rule=False) as sp, \
            httpx.Client(base_url=sp.base_url, headers=sp.headers, timeout=10) as c:
        assert sp.duplicate_rule is False
        assert c.post(LIST, json=_create_body("crm-p")).status_code == 201
        assert c.post(LIST, json=_create_body("crm-p")).status_code == 201
        assert sp.external_id_counts()["crm-p"] == 2 and len(sp.duplicates()["crm-p"]) == 2
        sp.duplicate_rule = True
        assert c.post(LIST, json=_create_body("crm-p")).status_code == 409
        poisoned = sp.poison(1000, contract_name={"x": 1}, remove=["contract_status"])
        assert poisoned["poison"]["removed"] == ["contract_status"]
        added = sp.add_contracts(1, overrides={"contract_type_id": "abc"})
        assert added[0]["poison"]["fields"] == {"contract_type_id": "abc"}
        items = {x["id"]: x for x in c.get(LIST).json()["results"]}
        assert items[poisoned["composite_id"]]["contract_name"] == {"x": 1}
        assert "contract_status" not in items[poisoned["composite_id"]]
        sp.set_faults(p_contradictory_page=1.0)
        assert c.get(LIST, params={"limit": 2}).json()["total_results"] == 7
