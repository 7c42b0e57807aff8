"""Who may call the sandbox and at which address: 401/403 without the secret ever leaving, redirects for a
trailing-slash mismatch and for plain http, 404/405 for what is not there, and a request log that counts
only traffic. Real HTTP over loopback; each test starts its own sandbox."""

from __future__ import annotations

import httpx

from sandbox import Sandbox
from tests.support.sandbox_http import LIST, V21, api_client


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
    with Sandbox(contracts=5, seed=1) as sb, api_client(sb) as c:
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


def test_request_log_counts_what_reached_the_server():
    with Sandbox(contracts=3, seed=1) as sb, api_client(sb) as c:
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
