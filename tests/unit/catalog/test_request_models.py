"""Request models check input that never reaches the wire: a bad create_contract body, path parameter,
query parameter or other body is refused naming the field, and a valid one is sent once, as given.
Pure logic: the client talks to an `httpx.MockTransport` that counts requests, so "nothing was sent" is a fact.
"""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from client import models
from client.catalog import OPERATIONS
from client.errors import InvalidRequestError
from tests.support.counting_client import counting_client


def valid_contract() -> dict:
    return {
        "contract_template_id": 12,
        "contract_data": {"customer_name": "Acme"},
        "counter_party_details": [
            {"is_individual": False, "organization_name": "Acme",
             "poc_details": {"first_name": "Ada", "email": "ada@acme.test"}},
        ],
    }


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["counter_party_details"][0]["poc_details"].pop("email"),
         "counter_party_details.0.poc_details.email"),
        (lambda b: b["counter_party_details"][0]["poc_details"].pop("first_name"),
         "counter_party_details.0.poc_details.first_name"),
        (lambda b: b["counter_party_details"][0].pop("is_individual"), "counter_party_details.0.is_individual"),
        (lambda b: b["counter_party_details"][0].pop("poc_details"), "counter_party_details.0.poc_details"),
        (lambda b: b.pop("contract_template_id"), "contract_template_id"),
        (lambda b: b.pop("contract_data"), "contract_data"),
        (lambda b: b.pop("counter_party_details"), "counter_party_details"),
        (lambda b: b.update(contract_template_id="twelve"), "contract_template_id"),
        (lambda b: b.update(contract_nmae="typo"), "contract_nmae"),
    ],
)
def test_bad_create_contract_body_never_reaches_the_wire(mutate, field):
    c, sent = counting_client()
    body = valid_contract()
    mutate(body)
    with pytest.raises(InvalidRequestError) as caught:
        c.call("create_contract", body=body)
    assert field in str(caught.value)
    assert "create_contract" in str(caught.value)
    assert sent == []


def test_valid_create_contract_body_is_sent_once_as_given():
    c, sent = counting_client()
    c.call("create_contract", body=valid_contract())
    assert len(sent) == 1
    assert json.loads(sent[0].content) == valid_contract()
    assert sent[0].url.path == "/api/v2.1/public/contracts/"


def test_other_bad_input_never_reaches_the_wire():
    c, sent = counting_client()
    with pytest.raises(InvalidRequestError, match="composite_id"):
        c.call("get_contract_status", path_params={"composite_id": "123; DROP"})
    with pytest.raises(InvalidRequestError, match="contract_id"):
        c.call("list_contract_obligations", path_params={"contract_id": "T-12"})
    with pytest.raises(InvalidRequestError, match="unknown query parameter"):
        c.call("list_contracts", query={"filter__no_such_field": "x"})
    with pytest.raises(InvalidRequestError, match="url"):
        c.call("create_webhook", body={"url": 12})
    with pytest.raises(InvalidRequestError, match="flags"):
        c.call("check_workspace_feature_flags", body={})
    with pytest.raises(InvalidRequestError, match="webhook_url"):  # nullable, but must be https
        c.call("upload_sidebar_file", body={"entity_id": "e", "upload_source": "chat", "webhook_url": "http://x"})
    with pytest.raises(InvalidRequestError, match="upload_source"):
        c.call("upload_sidebar_file", body={"entity_id": "e", "upload_source": "inbox"})
    with pytest.raises(InvalidRequestError):  # a list body whose items miss a required field
        c.call("bulk_update_contract_obligations", path_params={"contract_id": 1}, body=[{"status": "PENDING"}])
    with pytest.raises(InvalidRequestError, match="questionnaire_type"):
        c.call("get_contract_questionnaire_responses", path_params={"contract_id": 1})
    assert sent == []


def test_every_request_model_refuses_unknown_fields_and_accepts_its_own_shape():
    for op in OPERATIONS:
        model = op.body_model
        if model is None:
            continue
        assert issubclass(model, BaseModel)
        if issubclass(model, models.RootModel):
            continue
        assert model.model_config.get("extra") == "forbid", op.name
        with pytest.raises(ValueError):
            model.model_validate({"surely_not_a_field": 1})


def test_nullable_and_not_nullable_optionals():
    # nullable: None is accepted; optional but not nullable: may be left out, None is refused
    models.PublicAnalyticsQueryRequest.model_validate({"query": "select 1", "user_scoped": None})
    models.InviteUserAndAssignRolesPublicRequest.model_validate({"first_name": "A", "email": "a@b.test"})
    with pytest.raises(ValueError):
        models.InviteUserAndAssignRolesPublicRequest.model_validate(
            {"first_name": "A", "email": "a@b.test", "last_name": None})
