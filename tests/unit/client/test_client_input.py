"""Input the client refuses, or shapes the spec's way, before anything reaches the wire."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from client import errors


@pytest.mark.parametrize("value", ["", "   ", ".", "..", "a/..", "../contracts", "x\\y", "a\nb"])
def test_an_id_that_is_not_one_path_segment_is_refused_before_sending(client, sandbox, value):
    with pytest.raises(errors.InvalidRequestError) as caught:
        client.call("get_contracts_by_external_metadata", path_params={"external_metadata_id": value})
    assert "external_metadata_id" in str(caught.value)
    assert sandbox.request_log() == []


def test_an_ordinary_external_id_with_odd_characters_still_goes_out_quoted(client, sandbox):
    client.call("get_contracts_by_external_metadata", path_params={"external_metadata_id": "crm 7?x=1"})
    [request] = sandbox.request_log()
    assert request.path.endswith("/by_external_metadata/crm%207%3Fx%3D1") and request.query == ""


def test_array_query_parameters_are_repeated_as_the_spec_says(client, sandbox):
    client.call("list_templates", query={"tags": ["nda", "msa"], "tags_all": ("a",)})
    query = parse_qs(sandbox.request_log()[-1].query)
    assert query["tags"] == ["nda", "msa"] and query["tags_all"] == ["a"]


def test_a_string_filter_that_takes_a_list_stays_comma_separated(client, sandbox):
    client.call("list_contracts", query={"filter__contract_id__in": [1, 2]})
    query = parse_qs(sandbox.request_log()[-1].query)
    assert query["filter__contract_id[$in]"] == ["1,2"]
