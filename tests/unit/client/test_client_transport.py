"""httpx's exceptions, mapped to ours by one table: "never sent" only when httpx says nothing went out.

The table itself is pure data (checked against httpx's own exception list); what it decides is
checked on the wire of an httpx.MockTransport (a write that is not safe to repeat is sent exactly
once after an ambiguous failure) and against the sandbox (an error body that breaks off midway).
"""

from __future__ import annotations

import httpx
import pytest

from client import SpotDraftClient, errors
from client.transport import HTTPX_ERRORS, our_error_type, translate

NEVER_SENT = {httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout}


def httpx_exception_types() -> set[type[BaseException]]:
    return {obj for name in httpx.__all__ if isinstance(obj := getattr(httpx, name), type)
            and issubclass(obj, Exception)}


def test_the_table_lists_every_exception_httpx_exports():
    assert httpx_exception_types() - set(HTTPX_ERRORS) == set()


def test_only_connect_failures_and_pool_timeouts_say_never_sent():
    for exc_type, ours in HTTPX_ERRORS.items():
        never_sent = issubclass(ours, errors.TransportError) and not ours.request_sent
        assert never_sent == (exc_type in NEVER_SENT), exc_type


@pytest.mark.parametrize(("exc_type", "ours"), [
    (httpx.ReadTimeout, errors.RequestTimeout),
    (httpx.WriteTimeout, errors.RequestTimeout),
    (httpx.ReadError, errors.ConnectionDropped),
    (httpx.WriteError, errors.ConnectionDropped),
    (httpx.CloseError, errors.ConnectionDropped),
    (httpx.RemoteProtocolError, errors.ConnectionDropped),
    (httpx.LocalProtocolError, errors.ExchangeFailed),
    (httpx.ProtocolError, errors.ExchangeFailed),
    (httpx.ProxyError, errors.ExchangeFailed),
    (httpx.UnsupportedProtocol, errors.ExchangeFailed),
    (httpx.DecodingError, errors.MalformedResponseError),
])
def test_ambiguous_httpx_errors_map_to_types_that_may_have_been_sent(exc_type, ours):
    assert our_error_type(exc_type("x")) is ours
    assert not (issubclass(ours, errors.TransportError) and not ours.request_sent)


def test_an_unknown_httpx_error_is_ambiguous_never_not_sent():
    class BrandNew(httpx.TransportError):
        pass

    class Odd(httpx.HTTPError):
        pass

    for exc in (BrandNew("new"), Odd("odd")):
        error = translate(exc, errors.ErrorContext(operation="create_contract"))
        assert isinstance(error, errors.ExchangeFailed) and error.request_sent
        assert type(exc).__name__ in str(error)


def _body():
    return {
        "contract_template_id": 1,
        "contract_data": {"customer_name": "Acme Inc."},
        "counter_party_details": [{"is_individual": False, "organization_name": "Acme Inc.",
                                   "poc_details": {"first_name": "Avery", "email": "legal@acme.example"}}],
    }


class _Odd(httpx.HTTPError):
    pass


@pytest.mark.parametrize(("exc_type", "sends"), [
    (httpx.ConnectError, 4), (httpx.ConnectTimeout, 4), (httpx.PoolTimeout, 4),  # provably never sent
    (httpx.CloseError, 1), (httpx.LocalProtocolError, 1), (httpx.ProtocolError, 1), (httpx.ProxyError, 1),
    (httpx.UnsupportedProtocol, 1), (httpx.RemoteProtocolError, 1), (httpx.ReadError, 1), (httpx.WriteError, 1),
    (httpx.ReadTimeout, 1), (httpx.WriteTimeout, 1), (_Odd, 1),
])
def test_an_unsafe_write_is_repeated_only_when_httpx_says_nothing_went_out(exc_type, sends):
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise exc_type("scripted failure", request=request) if exc_type is not _Odd else _Odd("scripted")

    with SpotDraftClient("id", "secret-xyz", base_url="http://127.0.0.1:9",
                         transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(errors.SpotDraftError) as caught:
            c.call("create_contract", body=_body())
    assert len(sent) == sends
    assert caught.value.context.extra["retryable"] is False or sends == 4
    assert not isinstance(caught.value, errors.ConnectError) or sends == 4


def test_a_download_whose_error_body_breaks_off_raises_the_status_error(client, sandbox, tmp_path):
    # The store refuses a bad signature (403) and the body of that refusal is cut halfway: httpx
    # cannot read it, and nothing may touch it afterwards (it used to end in httpx.ResponseNotRead).
    url = f"{sandbox.base_url}/_storage/no-such-file?expires=1&signature=abc123"
    sandbox.script("GET", r"^/_storage/", "cut", times=5)
    with pytest.raises(errors.HTTPStatusError) as caught:
        client.download_from_signed_url(url, tmp_path / "x.pdf")
    assert 400 <= caught.value.context.status < 500 and caught.value.context.body is None
    assert "abc123" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []
