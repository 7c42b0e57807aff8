"""The sandbox answers every operation of SpotDraft's spec with its documented status and schema, stateful
answers included, from an answers.json that is exactly what tools/synthesize_answers.py writes.
Real HTTP over loopback; each test starts its own sandbox."""

from __future__ import annotations

import base64

import httpx
import pytest

from sandbox import Sandbox
from sandbox.routes import load_answers
from tests.support.paths import ROOT, spotdraft_spec
from tests.support.sandbox_http import LIST, UPLOADS, V21, api_client, create_body
from tools.synthesize_answers import build, iter_operations, render, response_validator, success_schema

ANSWERS = load_answers()
# A subscription the sandbox accepts (it validates registrations as the spec says); the DELETE after it removes it.
HOOK = {"title": "conformance", "url": "https://127.0.0.1:9/hook", "only_for_activities": ["CONTRACT_VOIDED"]}


@pytest.fixture(scope="module")
def spec():
    return spotdraft_spec()


def _schema(spec, method: str, path: str):
    return success_schema(spec["paths"][path][method.lower()])[2]


def _assert_valid(spec, method: str, path: str, value) -> None:
    errors = sorted(response_validator(spec, _schema(spec, method, path)).iter_errors(value), key=str)
    assert not errors, f"{method} {path}: {errors[0].message} at {list(errors[0].absolute_path)}"


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
                    body = {("POST", LIST): create_body(fresh), ("POST", UPLOADS): new_file,
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
    with Sandbox(contracts=120, seed=5) as sb, api_client(sb) as c:
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
        created = c.post(LIST, json=create_body("crm-77"))
        assert created.status_code == 201
        _assert_valid(spec, "POST", LIST, created.json())
