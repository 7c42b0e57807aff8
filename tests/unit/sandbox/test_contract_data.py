"""The sandbox's contracts: the same seed gives the same bytes, pages cover every contract once, filters
select what they say, changes show in answers, and creates are found by external id (409 on a duplicate,
unless the duplicate rule is off, as SpotDraft promises no such rule).
Real HTTP over loopback; each test starts its own sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox import Sandbox
from tests.support.sandbox_http import LIST, V21, api_client, create_body


def test_same_seed_same_bytes_different_seed_different_data():
    bodies = []
    for seed in (11, 11, 12):
        with Sandbox(contracts=60, seed=seed) as sb, api_client(sb) as c:
            listed = c.get(LIST, params={"limit": 100}).content
            pointers = c.get(f"{V21}/contracts/T-1001/key_pointers").content
            bodies.append((listed, pointers))
    assert bodies[0] == bodies[1]
    assert bodies[0][0] != bodies[2][0]


def test_pagination_covers_every_contract_exactly_once():
    with Sandbox(contracts=237, seed=2) as sb, api_client(sb) as c:
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
    with Sandbox(contracts=200, seed=4) as sb, api_client(sb) as c:

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
    with Sandbox(contracts=20, seed=6) as sb, api_client(sb) as c:
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


def test_create_then_find_by_external_id_and_duplicate_is_409():
    with Sandbox(contracts=10, seed=8) as sb, api_client(sb, **{"user-email": "legal@sandbox.example"}) as c:
        created = c.post(LIST, json=create_body("crm-0042"))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["contract_status"] == "DRAFT"
        assert body["id"] == f"T-{body['contract_id']}"
        assert body["external_metadata"] == {"id": "crm-0042", "source": "crm"}
        assert body["counter_party_name"] == "Acme Widgets Ltd."
        found = c.get(f"{V21}/contracts/by_external_metadata/crm-0042").json()
        assert [x["id"] for x in found] == [body["contract_id"]]
        assert c.get(f"{V21}/contracts/by_external_metadata/crm-none").json() == []
        duplicate = c.post(LIST, json=create_body("crm-0042"))
        assert duplicate.status_code == 409
        assert duplicate.json()["contract_ids"] == [body["contract_id"]]
        assert c.get(LIST).json()["total_results"] == 11
        assert sb.state.get(body["contract_id"]).created_by.email == "legal@sandbox.example"


def test_create_rejects_bad_bodies_with_field_errors():
    with Sandbox(contracts=3, seed=1) as sb, api_client(sb) as c:
        empty = c.post(LIST, content=b"", headers={"content-type": "application/json"})
        assert empty.status_code == 400
        assert (
            c.post(LIST, content=b"{not json", headers={"content-type": "application/json"}).status_code
            == 400
        )
        missing = c.post(LIST, json={"contract_template_id": "x"})
        assert missing.status_code == 400
        assert set(missing.json()) == {"contract_template_id", "contract_data", "counter_party_details"}
        body = create_body()
        body["counter_party_details"][0] = {"is_individual": "no", "poc_details": {"first_name": "A"}}
        nested = c.post(LIST, json=body).json()["counter_party_details"][0]
        assert set(nested) == {"is_individual", "poc_details"} and "email" in nested["poc_details"]
        unknown = c.post(LIST, json=create_body(template_id=9999))
        assert unknown.status_code == 400 and "contract_template_id" in unknown.json()
        generic_required = c.post(f"{V21}/counter_parties/", content=b"")
        assert generic_required.status_code == 400
        assert len(sb.state.contracts) == 3


def test_without_the_duplicate_rule_a_second_create_makes_a_second_contract():
    with Sandbox(contracts=3, seed=4, duplicate_rule=False) as sb, api_client(sb) as c:
        first = c.post(LIST, json=create_body("crm-dup"))
        second = c.post(LIST, json=create_body("crm-dup"))
        assert first.status_code == second.status_code == 201
        assert first.json()["contract_id"] != second.json()["contract_id"]
        found = c.get(f"{V21}/contracts/by_external_metadata/crm-dup").json()
        assert [x["id"] for x in found] == [first.json()["contract_id"], second.json()["contract_id"]]
        assert sb.external_id_counts()["crm-dup"] == 2
        assert sb.duplicates() == {"crm-dup": [first.json()["contract_id"], second.json()["contract_id"]]}
        sb.duplicate_rule = True  # switched live: the rule holds again
        assert c.post(LIST, json=create_body("crm-dup")).status_code == 409
    with Sandbox(contracts=3, seed=4) as sb:
        assert sb.duplicate_rule is True and sb.duplicates() == {}
