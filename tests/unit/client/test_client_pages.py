"""A list answer that contradicts itself is a malformed answer: retried, then raised, never the last page."""

from __future__ import annotations

import pytest

from client import errors
from client.pages import page_of


def answer(n: int, total, **extra):
    return {"page": 1, "limit": 10, "total_results": total, "results": [{"id": i} for i in range(n)], **extra}


@pytest.mark.parametrize(("n", "total", "page", "limit"), [
    (10, 25, 1, 10), (10, 25, 2, 10), (5, 25, 3, 10), (0, 25, 4, 10), (0, 0, 1, 100), (100, 100, 1, 100),
])
def test_a_consistent_page_is_accepted(n, total, page, limit):
    results, got_total = page_of(answer(n, total), page=page, limit=limit)
    assert len(results) == n and got_total == total


@pytest.mark.parametrize(("body", "page", "limit", "words"), [
    ([], 1, 10, "object"),
    ({"results": None, "total_results": 3}, 1, 10, "results"),
    (answer(1, None), 1, 10, "total_results"),
    (answer(1, True), 1, 10, "total_results"),
    (answer(1, -1), 1, 10, "total_results"),
    (answer(1, "1"), 1, 10, "total_results"),
    (answer(11, 50), 1, 10, "more than the limit"),
    (answer(0, 50), 1, 100, "promises 50"),  # results: [] while the total promises more
    (answer(30, 100), 1, 100, "promises 100"),  # a short first page
    (answer(99, 100), 1, 100, "promises 100"),
    (answer(3, 25), 4, 10, "promises 0"),  # a page past the end must be empty
])
def test_a_page_that_contradicts_itself_is_malformed(body, page, limit, words):
    with pytest.raises(errors.MalformedResponseError, match=words):
        page_of(body, page=page, limit=limit)


@pytest.mark.parametrize("kind", ["empty_page", "short_page"])
def test_a_contradictory_page_is_retried_by_iter_pages(client, sandbox, kind):
    sandbox.script("GET", r"/contracts/$", kind, times=1)
    ids = [r["id"] for r in client.iter_results("list_contracts", limit=7)]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert len(sandbox.request_log("GET")) == 5 + 1  # five pages, one of them twice


def test_a_page_that_keeps_contradicting_itself_fails_with_context_and_never_ends_the_walk_early(client, sandbox):
    walked = []
    sandbox.script("GET", r"/contracts/$", "empty_page", times=100)
    with pytest.raises(errors.MalformedResponseError) as caught:
        for page in client.iter_pages("list_contracts", limit=7):
            walked.append(page)
    assert walked == []
    ctx = caught.value.context
    assert (ctx.operation, ctx.status, ctx.attempts, ctx.max_attempts) == ("list_contracts", 200, 4, 4)
    assert "promises 7" in str(caught.value) and ctx.extra["retryable"] is False


def test_call_with_a_check_retries_a_refused_answer_for_a_safe_operation(client, sandbox):
    sandbox.script("GET", r"/contracts/$", "short_page", times=2)
    got = client.call("list_contracts", query={"page": 2, "limit": 10},
                      check=lambda a: page_of(a, page=2, limit=10))
    assert page_of(got, page=2, limit=10)[1] == 30
    assert len(sandbox.request_log("GET")) == 3


def test_a_check_on_an_unsafe_operation_is_not_retried(client, sandbox):
    def refuse(answer):
        raise errors.MalformedResponseError("not what we asked for")

    with pytest.raises(errors.MalformedResponseError, match="not what we asked for") as caught:
        client.call("start_workspace_file_uploads",
                    body={"files": [{"filename": "a.pdf", "content_type": "application/pdf"}]}, check=refuse)
    assert caught.value.context.attempts == 1 and caught.value.context.method == "POST"
