"""Secrets by where they come from, never by a business field's name; URLs never show their secrets."""

from __future__ import annotations

import logging

import pytest
import yaml
from pydantic import SecretStr

from client.redaction import (
    HEADER_SECRET_KEYS,
    MASK,
    SECRET_ANSWER_FIELDS,
    SECRET_FIELDS,
    hide_url_secrets,
    is_secret_key,
    redact,
    register_secret,
    scrub_signed,
)
from client.result_secrets import protect_secrets
from tests.support.paths import require_spec

BUSINESS = {"authorization_limit": 5000, "trade_secret_clause": "Clause 7 applies", "token_amount": 12,
            "secretary_name": "R. Jones", "password_hint": "the usual", "access_tokens_issued": 3,
            "client_secret_rotation_days": 90, "hmac_key_rotated_on": "2024-01-01"}


@pytest.fixture(scope="module")
def spec():
    with open(require_spec()) as fh:
        return yaml.safe_load(fh)


def test_every_secret_field_is_a_property_of_the_spec_schema_named_for_it(spec):
    schemas = spec["components"]["schemas"]
    for field, schema in SECRET_FIELDS.items():
        assert field in schemas[schema]["properties"], (field, schema)
    for operation, fields in SECRET_ANSWER_FIELDS.items():
        for field, schema in fields.items():
            assert field in schemas[schema]["properties"], (operation, field, schema)


def test_every_secret_answer_belongs_to_an_operation_of_the_catalog_that_answers_that_schema(spec):
    from client.catalog import OPERATIONS_BY_NAME

    for operation, fields in SECRET_ANSWER_FIELDS.items():
        op = OPERATIONS_BY_NAME[operation]
        answer = spec["paths"][op.path][op.method.lower()]["responses"]["200"]["content"]["application/json"]
        assert {answer["schema"]["$ref"].rsplit("/", 1)[1]} == set(fields.values())


def test_credential_headers_are_the_spec_security_schemes(spec):
    headers = {s["name"].lower() for s in spec["components"]["securitySchemes"].values() if s.get("in") == "header"}
    assert "client-secret" in headers and "client-secret" in HEADER_SECRET_KEYS
    assert {"authorization", "client_secret"} <= HEADER_SECRET_KEYS  # bearer/basic auth, and its snake case


def test_business_fields_pass_through_unchanged_and_spec_secrets_are_masked():
    register_secret("registered-Secret-9c1e")
    data = {**BUSINESS, "hmac_key": "zJDCvFUXhBy", "note": "key is registered-Secret-9c1e",
            "nested": [{"password": "p4ss-word", "token": "invite-tok", **BUSINESS}], "Client-Secret": "x"}
    out = redact(data)
    for key, value in BUSINESS.items():
        assert out[key] == value and out["nested"][0][key] == value
    assert out["hmac_key"] == MASK and out["nested"][0]["password"] == MASK and out["nested"][0]["token"] == MASK
    assert out["note"] == f"key is {MASK}" and out["Client-Secret"] == MASK
    assert not any(is_secret_key(k) for k in BUSINESS)


def test_task_results_wrap_spec_secrets_only():
    protected = protect_secrets({**BUSINESS, "hmac_key": "c2VjcmV0aG1hYw", "items": [{"token": "tok-123456"}]})
    assert isinstance(protected["hmac_key"], SecretStr) and isinstance(protected["items"][0]["token"], SecretStr)
    assert {k: protected[k] for k in BUSINESS} == BUSINESS
    embedded = protect_secrets({"url": "https://app.spotdraft.com/embed/abc"}, "get_counterparty_embedded_url")
    assert isinstance(embedded["url"], SecretStr)
    assert protect_secrets({"url": "https://example.com"}, "get_contract") == {"url": "https://example.com"}


@pytest.mark.parametrize(("url", "kept", "hidden"), [
    ("postgresql+psycopg://app:pw-One@db.example:5432/prod?sslmode=require&sslpassword=pw-Two&password=pw-Three",
     ["postgresql+psycopg://app:", "@db.example:5432/prod", "sslmode=require"], ["pw-One", "pw-Two", "pw-Three"]),
    ("mysql://root:hunter22@localhost/db", ["mysql://root:", "@localhost/db"], ["hunter22"]),
    ("https://bucket.s3.amazonaws.com/o.pdf?X-Amz-Credential=AKIA1&X-Amz-Signature=c4fe&x-id=GetObject",
     ["https://bucket.s3.amazonaws.com/o.pdf?", "x-id=GetObject"], ["AKIA1", "c4fe"]),
    ("https://storage.googleapis.com/b/f.pdf?X-Goog-Algorithm=GOOG4&X-Goog-Signature=9a9a",
     ["storage.googleapis.com/b/f.pdf"], ["9a9a", "GOOG4"]),
    ("https://acct.blob.core.windows.net/c/f?sv=2022&se=2030&sp=r&sig=Zm9v%3D", ["acct.blob.core.windows.net/c/f"],
     ["Zm9v"]),
    ("http://127.0.0.1:9/_storage/x?expires=1&signature=abcdef", ["127.0.0.1:9/_storage/x"], ["abcdef"]),
    ("https://api.example/x?token=t0k&key=k3y&pwd=p1&passwd=p2&secret=s3&credential=c4", ["api.example/x"],
     ["t0k", "k3y", "p1", "p2", "s3", "c4"]),
    ("sqlite:///tmp/spotdraft.db", ["sqlite:///tmp/spotdraft.db"], []),
])
def test_urls_keep_what_a_person_recognises_and_lose_their_secrets(url, kept, hidden):
    shown = hide_url_secrets(url)
    for part in kept:
        assert part in shown
    for secret in hidden:
        assert secret not in shown
    if not hidden:
        assert shown == url


@pytest.mark.parametrize("text", [
    "AccessDenied for /bucket/obj?X-Amz-Signature=c4fe&X-Amz-Credential=AKIA",
    "see https://storage.example/o?X-Goog-Signature=c4fe",
    "bad X-Goog-Signature=c4fe in request",
    "Signature=c4fe does not match",
])
def test_signing_parameters_are_removed_from_storage_error_text(text):
    scrubbed = scrub_signed(text)
    assert "c4fe" not in scrubbed and "AKIA" not in scrubbed


def test_httpx_request_log_never_shows_a_signed_urls_signature(client, sandbox, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="httpx")
    slot = client.call("start_workspace_file_uploads",
                       body={"files": [{"filename": "a.pdf", "content_type": "application/pdf"}]})["files"][0]
    client.upload_to_signed_url(slot["upload_url"], b"%PDF-1.4 canary", content_type="application/pdf")
    down = client.call("get_workspace_file_download_url", path_params={"file_id": slot["file_id"]})["signed_url"]
    client.download_from_signed_url(down, tmp_path / "a.pdf")
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("/_storage/" in line for line in lines)  # the requests were logged, just without their key
    for url in (slot["upload_url"], down):
        signature = url.split("signature=")[1]
        assert not any(signature in line for line in lines)
    assert "signature=[redacted]" in caplog.text
