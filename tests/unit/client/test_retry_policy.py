"""Pure logic of the retry policy: which errors are retried, Retry-After parsing, the task retry condition."""

from __future__ import annotations

import pickle
from types import SimpleNamespace
from uuid import uuid4

import pytest

from client import errors as E
from client.retry import AttemptBudget, is_retryable, parse_retry_after
from tasks._base import transient_only


def error(cls, status=None, **extra):
    return cls("x", E.ErrorContext(status=status, attempts=1, max_attempts=4, extra=extra))


@pytest.mark.parametrize(
    ("exc", "safe", "expected"),
    [
        (error(E.RateLimitedError, 429), False, True),  # refused before processing: safe for any operation
        (error(E.ConnectError), False, True),  # never sent
        (error(E.ServerError, 503), True, True),
        (error(E.ServerError, 503), False, False),  # a write may have happened
        (error(E.ServerError, 501), True, False),
        (error(E.RequestTimeout), True, True),
        (error(E.RequestTimeout), False, False),
        (error(E.ConnectionDropped), False, False),
        (error(E.ConnectionDropped), True, True),
        (error(E.ExchangeFailed), False, False),  # protocol/proxy/unknown transport error: may have been sent
        (error(E.ExchangeFailed), True, True),
        (error(E.MalformedResponseError, 200), True, True),
        (error(E.BadRequestError, 400), True, False),
        (error(E.AuthenticationError, 401), True, False),
        (error(E.BusinessRuleError, 402), True, False),
        (error(E.PermissionDeniedError, 403), True, False),
        (error(E.NotFoundError, 404), True, False),
        (error(E.ConflictError, 409), True, False),
        (error(E.RedirectError, 302), True, False),
        (error(E.InvalidRequestError), True, False),
        (ValueError("not ours"), True, False),
    ],
)
def test_what_is_retried(exc, safe, expected):
    assert is_retryable(exc, safe) is expected


def test_may_have_been_sent_is_said_by_one_class_attribute():
    never_sent = {cls for cls in vars(E).values() if isinstance(cls, type) and issubclass(cls, E.TransportError)
                  and not cls.request_sent}
    assert never_sent == {E.ConnectError}


def test_retry_after_forms():
    assert parse_retry_after("3") == 3
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 9 <= parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) <= 11


def test_budget_counts_and_caps():
    budget = AttemptBudget(max_attempts=2, window=60)
    assert budget.can_wait(1)
    budget.take(), budget.take()
    assert budget.remaining == 0 and not budget.can_wait(0)
    assert not AttemptBudget(max_attempts=5, window=1).can_wait(2)


def _state(exc):
    return SimpleNamespace(data=exc)


def test_task_retry_condition_follows_the_error():
    run = SimpleNamespace(id=uuid4())
    assert transient_only(None, run, _state(error(E.ServerError, 503, retryable=True)))
    assert not transient_only(None, run, _state(error(E.ServerError, 503, retryable=False)))
    spent = E.ServerError("x", E.ErrorContext(status=503, attempts=4, max_attempts=4, extra={"retryable": True}))
    assert not transient_only(None, run, _state(spent))
    assert not transient_only(None, run, _state(ValueError("a bug in a flow")))


def test_errors_survive_pickling_with_their_context():
    exc = error(E.NotFoundError, 404)
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is E.NotFoundError and again.context == exc.context and str(again) == str(exc)


def test_redirect_causes():
    assert "http:// instead of https://" in E.RedirectError.likely_cause("http://h/a/", "https://h/a/")
    assert "trailing-slash" in E.RedirectError.likely_cause("https://h/api/x", "https://h/api/x/")
    assert "trailing-slash" in E.RedirectError.likely_cause("https://h/api/x/", "/api/x")
    assert "Location is" in E.RedirectError.likely_cause("https://h/a", "https://evil/b")
