"""create_contracts as a deployment: parameters given through the API are checked before a run exists,
the deploy step refers to the credentials document by id, and a failed run can be retried after the
document was recreated and redeployed.

Real sandbox over loopback HTTP, real Prefect (the in-process test harness: a real API server), real
SQLite.
"""

from __future__ import annotations

import contextlib
import json
import uuid

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

from blocks import SpotDraftCredentials
from flows import create_contracts
from tests.support.records import record, template_id

pytestmark = pytest.mark.usefixtures("prefect_api")


# == flow parameters drawn for the UI ===================================================================
def _create_contracts_deployment(api, name: str, parameters: dict):
    from prefect.utilities.callables import parameter_schema

    flow_id = api.create_flow_from_name("create-contracts")
    return api.create_deployment(
        flow_id=flow_id, name=name, parameters=parameters, enforce_parameter_schema=True,
        parameter_openapi_schema=parameter_schema(create_contracts).model_dump_for_openapi(),
    )


def test_records_file_null_through_the_api_is_refused_clearly_before_the_run_exists(sandbox, sqlite_url):
    """`create_contracts(..., records_file=None)` is the Python signature. Through a deployment the form's
    schema draws it as a plain text box (default ""), so the server refuses an explicit null, with a clear
    message and before any run exists (the README says: leave it out); leaving it out is accepted."""
    name = f"b10-null-{uuid.uuid4().hex[:8]}"
    SpotDraftCredentials(client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                         base_url=sandbox.base_url).save(name)
    from blocks.deploy_steps import credentials_reference

    given = {"template_id": template_id(sandbox), "records": [record("b10-null")]}
    with get_client(sync_client=True) as api:
        deployment_id = _create_contracts_deployment(
            api, name, {"credentials": credentials_reference(name)["reference"], "database_url": sqlite_url})
        try:
            with pytest.raises(Exception, match=r"records_file.*None is not of type 'string'"):
                api.create_flow_run_from_deployment(deployment_id, parameters={**given, "records_file": None})
            assert api.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(
                any_=[deployment_id]))) == []
            run = api.create_flow_run_from_deployment(deployment_id, parameters=given)
            api.delete_flow_run(run.id)
        finally:
            api.delete_deployment(deployment_id)


@pytest.mark.parametrize("given", [
    {"records": json.dumps([record("b10-str")])},  # the list pasted as a JSON string
    {"records": {"external_id": "b10-obj"}},  # one object, not a list
    {"records": [record("b10-ok"), "not an object"]},
    {"records": None, "records_file": ""},  # the untouched form
], ids=["json-string", "object", "non-object-item", "nothing"])
def test_bad_records_input_is_refused_before_any_request_with_a_clear_error(sandbox, credentials, sqlite_url, given):
    """Holds: the run fails, naming the parameter, and SpotDraft is never called."""
    before = len(sandbox.request_log())
    state = create_contracts(credentials, template_id(sandbox), database_url=sqlite_url, return_state=True, **given)
    assert state.is_failed()
    assert "records" in state.message, state.message
    assert len(sandbox.request_log()) == before


# == the deployments' credentials, by id, looked up by name when deploying ================================
def test_the_deploy_step_refers_to_the_named_document_of_its_own_type_by_id_never_to_its_data(sandbox):
    """Holds: a clear refusal for a missing document; a Secret block of the same name is not taken for it;
    only the id is returned, never the secret; the reference resolves to the document."""
    from prefect.blocks.core import Block
    from prefect.blocks.system import Secret

    from blocks.deploy_steps import credentials_reference

    name = f"b10-deploy-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ValueError, match=rf"no SpotDraft Credentials document named '{name}'.*create it first"):
        credentials_reference(name)
    Secret(value="not-the-credentials").save(name)
    with pytest.raises(ValueError, match="create it first"):
        credentials_reference(name)

    canary = f"canary-Deploy-{uuid.uuid4().hex[:10]}"
    SpotDraftCredentials(client_id=sandbox.client_id, client_secret=canary, base_url=sandbox.base_url).save(name)
    reference = credentials_reference(name)
    assert canary not in json.dumps(reference)
    with get_client(sync_client=True) as api:
        document = api.read_block_document_by_name(name, "spotdraft-credentials", include_secrets=False)
    assert reference == {"reference": {"$ref": {"block_document_id": str(document.id)}}}
    loaded = Block.load_from_ref(reference["reference"]["$ref"], _sync=True)
    assert isinstance(loaded, SpotDraftCredentials) and loaded.client_secret.get_secret_value() == canary


def test_a_failed_run_retried_after_the_credentials_document_was_recreated_and_redeployed_can_run(sandbox, sqlite_url):
    """The README: "A document deleted and created again needs `prefect deploy` again". Done; then a person
    retries, from the review, a run that failed before: the new run must be able to load its credentials."""
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.states import Failed

    from blocks.deploy_steps import credentials_reference
    from flows.review import _replay_flow_run

    name = f"b10-recreated-{uuid.uuid4().hex[:8]}"

    def save_document():
        SpotDraftCredentials(client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                             base_url=sandbox.base_url).save(name, overwrite=True)
        return {"credentials": credentials_reference(name)["reference"], "database_url": sqlite_url}

    with get_client(sync_client=True) as api:
        deployment_id = _create_contracts_deployment(api, name, save_document())
        created = []
        try:
            failed = api.create_flow_run_from_deployment(deployment_id, parameters={
                "template_id": template_id(sandbox), "records": [record("b10-recreated")]})
            created.append(failed.id)
            api.set_flow_run_state(failed.id, Failed(message="the worker died"), force=True)

            old = api.read_block_document_by_name(name, "spotdraft-credentials", include_secrets=False)
            api.delete_block_document(old.id)
            api.update_deployment(deployment_id, DeploymentUpdate(parameters=save_document()))  # `prefect deploy`

            try:
                outcome = _replay_flow_run(None, sqlite_url, {"flow_run_id": str(failed.id)}, None)
                again = api.read_flow_run(uuid.UUID(outcome["new_flow_run_id"]))
                created.append(again.id)
                # What the worker does first with a run's parameters: resolve the Block reference, validate.
                create_contracts.validate_parameters(again.parameters)
                problem = None
            except Exception as error:
                problem = f"{type(error).__name__}: {error}; {error.__cause__!r}"
        finally:
            for run_id in created:
                with contextlib.suppress(Exception):
                    api.delete_flow_run(run_id)
            api.delete_deployment(deployment_id)
    assert problem is None, f"the retried run cannot start: {problem}"
