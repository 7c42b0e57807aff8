"""Bad flow parameters, generated: `create_contracts` and `sync_contracts` given a bad template id, page
size, concurrency or overlap fail on a real Prefect API with an error naming the parameter, and the
sandbox sees nothing. Property-based (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.records import record
from tests.support.request_cases import names

FLOWS = settings(max_examples=5, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


NOT_A_NUMBER = st.text(alphabet="abcxyz -_", min_size=1, max_size=6).filter(lambda s: s.strip())


def refused_run(state, sandbox, parameter: str) -> None:
    assert state.is_failed(), f"{parameter}: the run did not fail ({state.type})"
    assert names(state.message or "", parameter), f"the failure does not name {parameter}: {state.message}"
    assert sandbox.requests == [], f"sent despite a bad {parameter}"


BAD_CREATE_PARAMETERS = st.one_of(
    st.tuples(st.just("template_id"), st.one_of(st.integers(max_value=0), NOT_A_NUMBER, st.just(1.5))),
    st.tuples(st.just("concurrency"), st.one_of(st.integers(max_value=0), st.integers(min_value=17))),
)
BAD_SYNC_PARAMETERS = st.one_of(
    st.tuples(st.just("page_size"), st.one_of(st.integers(max_value=0), st.integers(min_value=101), NOT_A_NUMBER)),
    st.tuples(st.just("concurrency"), st.one_of(st.integers(max_value=0), st.integers(min_value=129))),
    st.tuples(st.just("overlap_minutes"), st.one_of(st.floats(max_value=-1e-6, allow_infinity=False),
                                                    st.just(math.nan), NOT_A_NUMBER)),
)


@FLOWS
@given(case=BAD_CREATE_PARAMETERS)
@example(case=("template_id", 0))
@example(case=("template_id", "abc"))
@example(case=("concurrency", 0))
def test_create_contracts_refuses_a_bad_parameter_before_any_request(prefect_api, sandbox, credentials, tmp_path,
                                                                      case):
    from flows import create_contracts

    parameter, bad = case
    arguments = {"template_id": next(iter(sandbox.state.templates)), "concurrency": 1, parameter: bad}
    sandbox.reset_log()
    state = create_contracts(credentials, records=[record("bad-input-1")],
                             database_url=f"sqlite:///{tmp_path / 'c.db'}", return_state=True, **arguments)
    refused_run(state, sandbox, parameter)


@FLOWS
@given(case=BAD_SYNC_PARAMETERS)
@example(case=("page_size", 0))
@example(case=("page_size", 101))
@example(case=("concurrency", 0))
@example(case=("overlap_minutes", -1))
def test_sync_contracts_refuses_a_bad_parameter_before_any_request(prefect_api, sandbox, credentials, tmp_path,
                                                                    case):
    from flows import sync_contracts

    parameter, bad = case
    sandbox.reset_log()
    state = sync_contracts(credentials, database_url=f"sqlite:///{tmp_path / 's.db'}", return_state=True,
                           **{parameter: bad})
    refused_run(state, sandbox, parameter)


@pytest.mark.parametrize("overlap", [math.inf, 1e300])
def test_sync_contracts_refuses_an_overlap_beyond_any_calendar(prefect_api, sandbox, credentials, tmp_path, overlap):
    """An overlap no date can be that far before: refused naming it, not an OverflowError traceback."""
    from flows import sync_contracts

    sandbox.reset_log()
    state = sync_contracts(credentials, database_url=f"sqlite:///{tmp_path / 's.db'}", return_state=True,
                           overlap_minutes=overlap)
    refused_run(state, sandbox, "overlap_minutes")
