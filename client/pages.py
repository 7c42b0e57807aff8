"""One page of a list answer, checked against itself before anyone trusts it.

SpotDraft's list answers carry `total_results`, `page`, `limit` and `results`. An answer whose
results contradict its own total (`results: []` while the total promises more, a short page in
the middle) is a malformed answer, not the last page: taken at its word it would end a pass early
and move a watermark past contracts nobody read. `SpotDraftClient.call(..., check=...)` runs the
check inside each attempt, so such an answer is retried like any other malformed one.
"""

from __future__ import annotations

from typing import Any

from client.errors import MalformedResponseError


def expected_count(total: int, *, page: int, limit: int) -> int:
    """How many results page `page` of `limit` holds when there are `total` (0 past the end)."""
    return min(limit, max(0, total - (page - 1) * limit))


def page_of(answer: Any, *, page: int, limit: int) -> tuple[list, int]:
    """(results, total_results) of a list answer, or MalformedResponseError saying what contradicts."""
    if not isinstance(answer, dict):
        raise MalformedResponseError(f"a list answer must be an object, got {type(answer).__name__}")
    results = answer.get("results")
    if not isinstance(results, list):
        raise MalformedResponseError(f"a list answer's results must be a list, got {type(results).__name__}")
    total = answer.get("total_results")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise MalformedResponseError(f"a list answer's total_results must be a non-negative integer, got {total!r}")
    if len(results) > limit:
        raise MalformedResponseError(f"page {page} holds {len(results)} results, more than the limit of {limit}")
    expected = expected_count(total, page=page, limit=limit)
    if len(results) != expected:
        raise MalformedResponseError(
            f"page {page} (limit {limit}) holds {len(results)} results while total_results={total} "
            f"promises {expected}"
        )
    return results, total


def is_last(total: int, *, page: int, limit: int) -> bool:
    """Whether page `page` of `limit` reaches the end of `total` results."""
    return page * limit >= total
