"""The client against the sandbox over real loopback HTTP: the guide's status table and retry model.

Each test counts the requests that reached the server, because "retried" and "not retried" are
claims about the wire, not about our own bookkeeping.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from client import SpotDraftClient, errors
from client.catalog import OPERATIONS_BY_NAME
from client.writes import create_contract


def count(sandbox, method: str, path_part: str) -> int:
    return sum(1 for r in sandbox.request_log() if r.method == method and path_part in r.path)


def a_contract(client) -> dict:
    return client.call("list_contracts", query={"page": 1, "limit": 1})["results"][0]


def create_body(template_id: int, external_id: str | None = None) -> dict:
    body = {
        "contract_template_id": template_id,
        "contract_data": {"customer_name": "Acme Inc."},
        "counter_party_details": [
            {"is_individual": False, "organization_name": "Acme Inc.",
             "poc_details": {"first_name": "Avery", "email": "legal@acme.example"}}
        ],
    }
    if external_id:
        body["external_metadata"] = {"id": external_id, "integration_name": "tests"}
    return body


def template_id(client) -> int:
    return client.call("list_templates")["items"][0]["id"]


# -- 2xx --------------------------------------------------------------------------------------------------
def test_success_returns_the_json_as_sent(client, sandbox):
    page = client.call("list_contracts", query={"page": 1, "limit": 5})
    assert {"total_results", "page", "limit", "results"} <= set(page)
    assert len(page["results"]) == 5
    status = client.call("get_contract_status", path_params={"composite_id": _composite(page["results"][0])})
    assert status["contract_status"] in {"DRAFT", "REDLINING", "SIGN", "EXECUTED", "ON_HOLD", "VOIDED"}


def _composite(record: dict) -> str:
    from flows.sync_pages import composite_id_of

    return composite_id_of(record)


def test_iter_results_walks_every_page_exactly_once(client, sandbox):
    ids = [r["id"] for r in client.iter_results("list_contracts", limit=7)]
    assert len(ids) == 30 and len(set(ids)) == 30


# -- 4xx: never retried, one exception type each, advice from the guide ------------------------------------
@pytest.mark.parametrize(
    ("status", "error", "advice_words"),
    [
        (400, errors.BadRequestError, "validate the request shape"),
        (401, errors.AuthenticationError, "client-secret"),
        (402, errors.BusinessRuleError, "business rule"),
        (403, errors.PermissionDeniedError, "user-email"),
        (404, errors.NotFoundError, "region, path, API version, workspace"),
        (409, errors.ConflictError, "re-fetch the current state"),
    ],
)
def test_permanent_statuses_are_raised_typed_and_never_retried(client, sandbox, status, error, advice_words):
    sandbox.script("GET", r"/contracts/$", status, times=10, body={"detail": f"scripted {status}"})
    with pytest.raises(error) as caught:
        client.call("list_contracts", query={"page": 1})
    assert count(sandbox, "GET", "/api/v2.1/public/contracts/") == 1
    assert advice_words in str(caught.value)
    ctx = caught.value.context
    assert (ctx.status, ctx.method, ctx.path, ctx.attempts) == (status, "GET", "/api/v2.1/public/contracts/", 1)
    assert ctx.host == client.host and ctx.request_id
    assert ctx.body == {"detail": f"scripted {status}"}
    assert ctx.extra["retryable"] is False


def test_real_401_from_wrong_secret(sandbox):
    with SpotDraftClient(sandbox.client_id, "wrong-secret-123", base_url=sandbox.base_url) as c:
        with pytest.raises(errors.AuthenticationError):
            c.call("list_templates")
    assert count(sandbox, "GET", "/templates/") == 1


def test_real_403_from_user_email_outside_the_workspace(sandbox):
    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url,
                         user_email="stranger@elsewhere.example") as c:
        with pytest.raises(errors.PermissionDeniedError):
            c.call("list_templates")


def test_real_404_for_unknown_contract(client, sandbox):
    with pytest.raises(errors.NotFoundError) as caught:
        client.call("get_contract_status", path_params={"composite_id": "T-999999"})
    assert caught.value.context.path == "/api/v2.1/public/contracts/T-999999/status"
    assert count(sandbox, "GET", "/status") == 1


# -- 429 and 5xx: retried with backoff, bounded ---------------------------------------------------------------
def test_429_is_retried_after_retry_after(client, sandbox):
    sandbox.script("GET", r"/templates/$", 429, times=1, headers={"Retry-After": "1"})
    started = time.monotonic()
    assert client.call("list_templates")["items"]
    assert time.monotonic() - started >= 1.0  # the server's ask was honoured, not our 10 ms backoff
    assert count(sandbox, "GET", "/templates/") == 2


def _client(sandbox, **settings):
    from client import RetrySettings

    return SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url,
                           retry=RetrySettings(**{"max_attempts": 5, "base_delay": 0.01, **settings}))


@pytest.mark.parametrize("retry_after", ["1", "1.5"])  # exactly max_delay, and above it
def test_a_retry_after_at_or_above_max_delay_is_honoured_when_the_window_holds_it(sandbox, retry_after):
    sandbox.script("GET", r"/templates/$", 429, times=1, headers={"Retry-After": retry_after})
    with _client(sandbox, max_delay=1, window=10) as c:
        started = time.monotonic()
        assert c.call("list_templates")["items"]
    assert time.monotonic() - started >= float(retry_after)
    assert count(sandbox, "GET", "/templates/") == 2


def test_a_retry_after_the_window_cannot_hold_fails_at_once_without_sleeping(sandbox):
    sandbox.script("GET", r"/templates/$", 429, times=5, headers={"Retry-After": "30"})
    with _client(sandbox, max_delay=0.5, window=10) as c:
        started = time.monotonic()
        with pytest.raises(errors.RateLimitedError) as caught:
            c.call("list_templates")
    assert time.monotonic() - started < 10  # not the 30 s it asked for
    assert caught.value.context.retry_after == 30
    assert count(sandbox, "GET", "/templates/") == 1


def test_a_503_with_retry_after_waits_that_long(sandbox):
    sandbox.script("GET", r"/templates/$", 503, times=1, headers={"Retry-After": "1"})
    with _client(sandbox, max_delay=2, window=10) as c:
        started = time.monotonic()
        assert c.call("list_templates")["items"]
    assert time.monotonic() - started >= 1.0  # the server's ask, not our 10 ms backoff
    assert count(sandbox, "GET", "/templates/") == 2


def test_a_503_with_retry_after_on_an_unsafe_write_is_still_not_repeated(client, sandbox):
    sandbox.script("POST", r"/contracts/$", 503, times=1, headers={"Retry-After": "1"})
    with pytest.raises(errors.ServerError) as caught:
        client.call("create_contract", body=create_body(template_id(client)))
    assert caught.value.context.retry_after == 1
    assert count(sandbox, "POST", "/api/v2.1/public/contracts/") == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_selected_5xx_are_retried_for_safe_operations(client, sandbox, status):
    sandbox.script("GET", r"/templates/$", status, times=2)
    assert client.call("list_templates")["items"]
    assert count(sandbox, "GET", "/templates/") == 3


def test_an_always_failing_server_sees_exactly_max_attempts(client, sandbox):
    sandbox.script("GET", r"/templates/$", 503, times=100)
    with pytest.raises(errors.ServerError) as caught:
        client.call("list_templates")
    assert count(sandbox, "GET", "/templates/") == 4 == caught.value.context.attempts
    assert caught.value.context.max_attempts == 4


def test_501_is_not_a_transient_5xx(client, sandbox):
    sandbox.script("GET", r"/templates/$", 501, times=5)
    with pytest.raises(errors.ServerError):
        client.call("list_templates")
    assert count(sandbox, "GET", "/templates/") == 1


def test_the_retry_window_caps_the_whole_operation(sandbox):
    from client import RetrySettings

    settings = RetrySettings(max_attempts=50, base_delay=0.2, max_delay=0.2, window=0.5)
    sandbox.script("GET", r"/templates/$", 503, times=100)
    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url, retry=settings) as c:
        started = time.monotonic()
        with pytest.raises(errors.ServerError):
            c.call("list_templates")
    assert time.monotonic() - started < 5  # 50 attempts 0.2 s apart would take 10 s
    assert 2 <= count(sandbox, "GET", "/templates/") < 50  # stopped by the window, not by the attempt budget


def test_each_retry_is_logged_with_context(client, sandbox, all_logs):
    sandbox.script("GET", r"/templates/$", 503, times=2)
    client.call("list_templates")
    retries = [r.getMessage() for r in all_logs.records if r.getMessage().startswith("Retrying list_templates")]
    assert len(retries) == 2
    assert "attempt 1/4" in retries[0] and "attempt 2/4" in retries[1]
    assert "/api/v2.1/public/templates/" in retries[0] and "503" in retries[0] and "request id" in retries[0]


# -- transport failures -------------------------------------------------------------------------------------
def test_timeouts_are_retried_and_are_not_python_timeouterrors(sandbox):
    from client import RetrySettings, TimeoutSettings

    sandbox.script("GET", r"/templates/$", "timeout", times=1)
    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url,
                         timeouts=TimeoutSettings(read=0.3)) as c:
        assert c.call("list_templates")["items"]
    sandbox.script("GET", r"/templates/$", "timeout", times=10)
    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url,
                         timeouts=TimeoutSettings(read=0.3), retry=RetrySettings(max_attempts=2, base_delay=0.01)) as c:
        with pytest.raises(errors.RequestTimeout) as caught:
            c.call("list_templates")
    assert not isinstance(caught.value, TimeoutError)  # Prefect would call the task TimedOut, not Failed


def test_dropped_connections_are_retried_for_reads(client, sandbox):
    sandbox.script("GET", r"/templates/$", "drop", times=2)
    assert client.call("list_templates")["items"]
    assert count(sandbox, "GET", "/templates/") == 3


def test_connection_refused_is_a_connect_error_retried_to_the_budget():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with SpotDraftClient("id", "secret-xyz", base_url=f"http://127.0.0.1:{port}") as c:
        with pytest.raises(errors.ConnectError) as caught:
            c.call("list_templates")
    assert caught.value.context.attempts == 4


def test_a_2xx_that_is_not_json_is_a_malformed_response(client, sandbox):
    sandbox.script("GET", r"/templates/$", "bad_json", times=10)
    with pytest.raises(errors.MalformedResponseError) as caught:
        client.call("list_templates")
    assert caught.value.context.status == 200
    assert caught.value.context.body  # the proxy page is kept for the person reading the error


def test_an_html_502_keeps_its_body_as_text(client, sandbox):
    sandbox.script("GET", r"/templates/$", 502, times=10, body="<html><body>Bad Gateway</body></html>")
    with pytest.raises(errors.ServerError) as caught:
        client.call("list_templates")
    assert "Bad Gateway" in caught.value.context.body


# -- redirects ------------------------------------------------------------------------------------------------
def test_trailing_slash_redirect_is_not_followed_and_named(client, sandbox):
    op = dataclasses.replace(OPERATIONS_BY_NAME["list_templates"], path="/api/v2.1/public/templates")
    with pytest.raises(errors.RedirectError) as caught:
        client.call(op)
    assert caught.value.context.location.endswith("/api/v2.1/public/templates/")
    assert "trailing-slash" in str(caught.value)
    assert count(sandbox, "GET", "/templates") == 1


def test_http_instead_of_https_is_named(sandbox):
    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.http_url) as c:
        with pytest.raises(errors.RedirectError) as caught:
            c.call("list_templates")
    assert "http:// instead of https://" in str(caught.value)
    assert caught.value.context.location.startswith("https://")


def test_a_redirect_to_another_host_never_reaches_it(client, sandbox):
    from sandbox import Sandbox

    with Sandbox(contracts=1, seed=1) as elsewhere:
        sandbox.script("POST", r"/contracts/$", 302, times=1, headers={"Location": elsewhere.base_url + "/steal"})
        with pytest.raises(errors.RedirectError):
            create_contract(client, create_body(template_id(client), "ext-redirect"))
        assert elsewhere.request_log() == []


# -- writes: never repeated blindly ---------------------------------------------------------------------------
def test_ambiguous_create_is_reconciled_by_external_id_not_reposted(client, sandbox):
    sandbox.script("POST", r"/contracts/$", "ambiguous", times=1)  # committed, then 504
    made = create_contract(client, create_body(template_id(client), "crm-42"))
    assert count(sandbox, "POST", "/api/v2.1/public/contracts/") == 1
    assert count(sandbox, "GET", "/by_external_metadata/crm-42") == 2  # looked up first, then to reconcile
    found = client.call("get_contracts_by_external_metadata", path_params={"external_metadata_id": "crm-42"})
    assert len(found) == 1 and str(found[0]["id"]) in str(made["id"])


def test_ambiguous_create_that_did_not_land_is_created_once(client, sandbox):
    sandbox.script("POST", r"/contracts/$", 503, times=1)  # failed before the write
    create_contract(client, create_body(template_id(client), "crm-43"))
    assert count(sandbox, "POST", "/api/v2.1/public/contracts/") == 2
    found = client.call("get_contracts_by_external_metadata", path_params={"external_metadata_id": "crm-43"})
    assert len(found) == 1


def test_create_without_external_id_is_never_repeated(client, sandbox):
    sandbox.script("POST", r"/contracts/$", "ambiguous", times=1)
    with pytest.raises(errors.ServerError) as caught:
        create_contract(client, create_body(template_id(client)))
    assert count(sandbox, "POST", "/api/v2.1/public/contracts/") == 1
    assert caught.value.context.extra["retryable"] is False


def test_a_reconciled_create_stays_within_the_attempt_budget(sandbox):
    from client import RetrySettings

    settings = RetrySettings(max_attempts=2, base_delay=0.01, max_delay=0.1, window=10)
    sandbox.script("POST", r"/contracts/$", 500, times=5)
    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url, retry=settings) as c:
        with pytest.raises(errors.ServerError) as caught:
            create_contract(c, create_body(100, "crm-budget"))
    assert count(sandbox, "POST", "/api/v2.1/public/contracts/") == 1  # the reconciling look-up took the second
    assert count(sandbox, "GET", "/by_external_metadata/") == 2  # the look-up first, then the reconciling one
    assert caught.value.context.attempts == 2


def test_conflict_on_create_refetches_current_state(client, sandbox):
    first = create_contract(client, create_body(template_id(client), "crm-44"))
    # The look-up before the second create misses it (a lagging index), so the POST answers 409.
    sandbox.script("GET", r"/by_external_metadata/crm-44$", 404, times=1)
    again = create_contract(client, create_body(template_id(client), "crm-44"))
    assert str(first["id"]).endswith(str(again["id"])) or str(again["id"]).endswith(str(first["id"]))
    assert count(sandbox, "POST", "/api/v2.1/public/contracts/") == 2
    assert count(sandbox, "GET", "/by_external_metadata/crm-44") == 3  # before each create, then the re-fetch


# -- bad input never reaches the wire -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("operation", "kwargs", "words"),
    [
        ("create_contract", {"body": {"contract_template_id": 1}}, "contract_data"),
        ("create_contract", {"body": {**create_body(1), "contract_templat_id": 3}}, "contract_templat_id"),
        ("list_contracts", {"query": {"filter__nonsense": "x"}}, "filter__nonsense"),
        ("list_contracts", {"query": {"page": 0}}, "page"),
        ("list_contracts", {"query": {"limit": "many"}}, "limit"),
        ("get_contract_status", {"path_params": {"composite_id": "X-1; DROP"}}, "composite_id"),
        ("get_contract_status", {"path_params": {}}, "composite_id"),
    ],
)
def test_bad_input_is_refused_before_any_request(client, sandbox, operation, kwargs, words):
    with pytest.raises(errors.InvalidRequestError) as caught:
        client.call(operation, **kwargs)
    assert words in str(caught.value) and operation in str(caught.value)
    assert sandbox.request_log() == []


def test_python_friendly_filter_names_map_to_the_wire_names(client, sandbox):
    client.call("list_contracts", query={"filter__last_updated_on__gte": "2020-01-01T00:00:00Z"})
    from urllib.parse import parse_qs

    query = parse_qs(sandbox.request_log()[-1].query)
    assert query["filter__last_updated_on[$gte]"] == ["2020-01-01T00:00:00Z"]


# -- the client itself ---------------------------------------------------------------------------------------
def test_headers_and_pooling(sandbox):
    with SpotDraftClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url,
                         user_email=sandbox.users[0]) as c:
        c.call("list_templates")
        c.call("list_templates")
        assert c._http._transport._pool.connections.__len__() == 1  # one kept-alive connection reused
    assert sandbox.request_log()[-1].user_email == sandbox.users[0]


@pytest.mark.parametrize("url", ["http://api.us.spotdraft.com", "ftp://127.0.0.1", "https://u:p@host.example"])
def test_base_url_must_be_https_or_loopback_http(url):
    with pytest.raises(ValueError):
        SpotDraftClient("id", "secret-xyz", base_url=url)


def test_regions_map_to_their_hosts():
    for region, host in [("IN", "api.in.spotdraft.com"), ("US", "api.us.spotdraft.com"),
                         ("EU", "api.eu.spotdraft.com"), ("ME", "api.me.spotdraft.com")]:
        with SpotDraftClient("id", "secret-xyz", region=region) as c:
            assert c.base_url == f"https://{host}"
