"""Workspace files in two steps: SpotDraft hands out a signed URL, the bytes go to storage directly.

Against the sandbox over loopback, which also plays the object store (`/_storage/...`, signed per
method, object and expiry, refusing requests that carry SpotDraft credentials).
"""

from __future__ import annotations

import os

import pytest
from prefect import flow

from client import errors
from client.regions import check_signed_url
from tasks.transfers import download_workspace_file, upload_workspace_file
from tests.support.paths import CANARY_SECRET

STORAGE = r"^/_storage/"


def storage_requests(sandbox, method: str) -> list:
    return [r for r in sandbox.request_log() if r.method == method and r.path.startswith("/_storage/")]


def start_slot(client, name: str = "terms.pdf", content_type: str = "application/pdf") -> dict:
    answer = client.call("start_workspace_file_uploads",
                         body={"files": [{"filename": name, "content_type": content_type}]})
    return answer["files"][0]


@pytest.mark.usefixtures("prefect_api")
def test_a_file_goes_up_and_comes_back_byte_for_byte_without_credentials_at_storage(credentials, sandbox, tmp_path):
    content = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "master services agreement.pdf"
    source.write_bytes(content)

    @flow
    def round_trip():
        uploaded = upload_workspace_file(credentials, str(source))
        downloaded = download_workspace_file(credentials, uploaded["file_id"], tmp_path / "back")
        return uploaded, downloaded

    (tmp_path / "back").mkdir()
    uploaded, downloaded = round_trip()
    assert uploaded["bytes"] == len(content) and uploaded["content_type"] == "application/pdf"
    assert downloaded["bytes"] == len(content)
    with open(downloaded["path"], "rb") as back:
        assert back.read() == content
    assert os.path.basename(downloaded["path"]) == "master services agreement.pdf"
    # Exactly one PUT and one GET reached storage, and neither carried a SpotDraft header.
    for method in ("PUT", "GET"):
        [request] = storage_requests(sandbox, method)
        assert request.client_id is None and request.status == 200
    # The signed URLs (keys to the object) are not handed back in the results.
    assert "signature" not in repr((uploaded, downloaded))


def test_bytes_upload_needs_a_name_and_a_missing_file_is_refused_before_any_request(credentials, sandbox, tmp_path):
    with pytest.raises(ValueError, match="file_name is required"):
        upload_workspace_file.fn(credentials, b"%PDF-1.4")
    with pytest.raises(ValueError, match="no file to upload"):
        upload_workspace_file.fn(credentials, str(tmp_path / "absent.pdf"))
    assert sandbox.request_log() == []


def test_content_type_is_guessed_from_the_name_or_taken_as_given(credentials, sandbox):
    guessed = upload_workspace_file.fn(credentials, b"a,b\n1,2\n", file_name="rates.csv")
    given = upload_workspace_file.fn(credentials, b"{}", file_name="data", content_type="application/json")
    assert (guessed["content_type"], given["content_type"]) == ("text/csv", "application/json")
    # The store checks the PUT's content-type against the one the URL was issued for.
    assert [r.status for r in storage_requests(sandbox, "PUT")] == [200, 200]


def test_a_transient_storage_failure_is_retried_and_each_attempt_sends_the_whole_file(client, sandbox, tmp_path):
    content = os.urandom(256 * 1024)
    source = tmp_path / "scan.pdf"
    source.write_bytes(content)
    slot = start_slot(client)
    sandbox.script("PUT", STORAGE, 503, times=1)
    sandbox.script("PUT", STORAGE, "drop", times=1)

    assert client.upload_to_signed_url(slot["upload_url"], source, content_type="application/pdf") == len(content)

    assert [r.status for r in storage_requests(sandbox, "PUT")] == [503, "drop", 200]
    url = client.call("get_workspace_file_download_url", path_params={"file_id": slot["file_id"]})["signed_url"]
    back = client.download_from_signed_url(url, tmp_path / "back.pdf")
    assert (tmp_path / "back.pdf").read_bytes() == content  # the third attempt re-read the file from its start
    assert back["bytes"] == len(content)


def test_an_always_failing_store_sees_exactly_max_attempts_and_the_error_hides_the_signature(client, sandbox):
    slot = start_slot(client)
    sandbox.script("PUT", STORAGE, 503, times=100)

    with pytest.raises(errors.ServerError) as failure:
        client.upload_to_signed_url(slot["upload_url"], b"%PDF-1.4", content_type="application/pdf")

    assert len(storage_requests(sandbox, "PUT")) == 4  # SPOTDRAFT_RETRY_MAX_ATTEMPTS in conftest
    error = failure.value
    assert error.context.operation == "put_to_signed_upload_url" and error.context.attempts == 4
    assert error.context.path == f"/_storage/{slot['file_id']}"
    assert error.context.environment == "signed storage URL"
    assert "signature" not in str(error) and "signature" not in repr(error.context.as_dict())


@pytest.mark.parametrize("status, error_type", [(403, errors.PermissionDeniedError), (302, errors.RedirectError)])
def test_a_refusal_or_redirect_from_storage_is_not_retried(client, sandbox, status, error_type):
    slot = start_slot(client)
    headers = {"Location": "https://elsewhere.example/bucket/object"} if status == 302 else None
    sandbox.script("PUT", STORAGE, status, times=5, headers=headers)

    with pytest.raises(error_type):
        client.upload_to_signed_url(slot["upload_url"], b"%PDF-1.4", content_type="application/pdf")
    assert len(storage_requests(sandbox, "PUT")) == 1


def test_a_signed_url_for_another_content_type_is_refused_by_the_store(client, sandbox):
    slot = start_slot(client, content_type="application/pdf")
    with pytest.raises(errors.PermissionDeniedError, match="content-type"):
        client.upload_to_signed_url(slot["upload_url"], b"PK\x03\x04", content_type="application/zip")


def test_the_store_refuses_a_request_that_carries_spotdraft_credentials(sandbox, client):
    # The sandbox's own guard, which the round-trip test relies on: prove it bites.
    import httpx

    slot = start_slot(client)
    headers = {**sandbox.headers, "content-type": "application/pdf"}
    answer = httpx.put(slot["upload_url"], content=b"%PDF", headers=headers)
    assert answer.status_code == 400 and "credentials" in answer.text


def test_the_secret_does_not_reach_results_or_logs(all_logs, tmp_path):
    from blocks import SpotDraftCredentials
    from sandbox import Sandbox

    with Sandbox(contracts=1, seed=3, client_secret=CANARY_SECRET) as canary_sandbox:
        creds = SpotDraftCredentials(client_id=canary_sandbox.client_id, client_secret=CANARY_SECRET,
                                     base_url=canary_sandbox.base_url)
        uploaded = upload_workspace_file.fn(creds, b"%PDF-1.4\n", file_name="x.pdf")
        downloaded = download_workspace_file.fn(creds, uploaded["file_id"], tmp_path / "x.pdf")
    assert CANARY_SECRET not in repr((uploaded, downloaded)) and CANARY_SECRET not in all_logs.text


@pytest.mark.parametrize(
    "url",
    ["http://storage.example/bucket/o?sig=1", "https://user:pw@storage.example/o", "ftp://storage.example/o", "/o"],
)
def test_signed_urls_are_refused_unless_https_or_loopback(url):
    with pytest.raises(ValueError):
        check_signed_url(url)
    assert check_signed_url("https://storage.googleapis.com/b/o?X-Goog-Signature=abc").endswith("abc")
    assert check_signed_url("http://127.0.0.1:9/_storage/x?signature=1").startswith("http://127.0.0.1")


def test_storage_errors_and_redirects_do_not_repeat_the_signature(client, sandbox):
    slot = start_slot(client)
    signature = slot["upload_url"].split("signature=")[1]
    echo = (f"<?xml version='1.0'?><Error><Code>SignatureDoesNotMatch</Code><Message>The signature does not "
            f"match.</Message><SignatureProvided>{signature}</SignatureProvided><StringToSign>PUT {signature}"
            f"</StringToSign></Error>")
    sandbox.script("PUT", STORAGE, 403, times=1, headers={"Content-Type": "application/xml"}, body=echo)
    with pytest.raises(errors.PermissionDeniedError) as refused:
        client.upload_to_signed_url(slot["upload_url"], b"%PDF", content_type="application/pdf")
    assert refused.value.context.body == {"code": "SignatureDoesNotMatch", "message": "The signature does not match."}

    elsewhere = f"https://storage.example/bucket/object?X-Goog-Signature={signature}"
    sandbox.script("PUT", STORAGE, 307, times=1, headers={"Location": elsewhere})
    with pytest.raises(errors.RedirectError) as moved:
        client.upload_to_signed_url(slot["upload_url"], b"%PDF", content_type="application/pdf")
    assert moved.value.context.location == "https://storage.example/bucket/object"
    for error in (refused.value, moved.value):
        assert signature not in str(error) and signature not in repr(error.context.as_dict())


def test_a_download_broken_off_midway_is_retried_and_leaves_no_partial_file(client, sandbox, tmp_path):
    content = os.urandom(512 * 1024)
    slot = start_slot(client)
    client.upload_to_signed_url(slot["upload_url"], content, content_type="application/pdf")
    url = client.call("get_workspace_file_download_url", path_params={"file_id": slot["file_id"]})["signed_url"]
    sandbox.script("GET", STORAGE, "cut", times=1)

    client.download_from_signed_url(url, tmp_path)

    assert [r.status for r in storage_requests(sandbox, "GET")] == ["cut", 200]
    assert [p.name for p in tmp_path.iterdir()] == ["terms.pdf"] and (tmp_path / "terms.pdf").read_bytes() == content


@pytest.mark.usefixtures("prefect_api")
def test_a_catalog_download_broken_off_midway_is_retried_then_given_up_typed(credentials, sandbox, tmp_path):
    from tasks import download_contract

    composite_id = sandbox.snapshot()[0]["composite_id"]
    route = rf"/contracts/{composite_id}/download$"
    sandbox.script(None, route, "cut", times=1)
    result = download_contract.fn(credentials, composite_id, tmp_path / "once.pdf")
    assert result["bytes"] == (tmp_path / "once.pdf").stat().st_size > 0

    sandbox.script(None, route, "cut", times=100)
    with pytest.raises(errors.ConnectionDropped, match="broke off midway"):
        download_contract.fn(credentials, composite_id, tmp_path / "never.pdf")
    cuts = [r for r in sandbox.request_log() if r.path.endswith("/download") and r.status == "cut"]
    assert len(cuts) == 1 + 4  # the first download's one cut, then SPOTDRAFT_RETRY_MAX_ATTEMPTS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["once.pdf"]




def test_stream_to_is_refused_for_an_operation_that_answers_json(client, sandbox, tmp_path):
    with pytest.raises(errors.InvalidRequestError, match="stream_to"):
        client.call("list_templates", stream_to=tmp_path)
    assert sandbox.request_log() == []
