"""Calls a type checker must refuse: tests/unit/catalog/test_typing.py expects each marked line's error, and no other.

A marked line ends with `# expect: <text>`, text that mypy's error on that line must contain. A Prefect
task's call and .submit are overloaded, so a wrong argument reads "No overload variant ... matches".
"""

from __future__ import annotations

from typing import Any

from prefect.futures import PrefectFuture

from blocks import SpotDraftCredentials
from tasks import get_contract_status, list_contracts


def misuse(credentials: SpotDraftCredentials) -> PrefectFuture[list[Any]]:
    get_contract_status(42, "T-1")  # expect: "__call__" of "Task" matches argument types "int", "str"
    get_contract_status.submit(42, "T-1")  # expect: "submit" of "Task" matches argument types "int", "str"
    get_contract_status.submit(credentials)  # expect: "submit" of "Task" matches argument type "SpotDraftCredentials"
    get_contract_status.fn(credentials, 7)  # expect: Argument 2 has incompatible type "int"; expected "str"
    list_contracts.submit(credentials, page="2")  # expect: "submit" of "Task" matches argument types
    once = get_contract_status.with_options(retries=0)
    once(credentials, "T-1", "x")  # expect: argument types "SpotDraftCredentials", "str", "str"
    return list_contracts.submit(credentials)  # expect: got "PrefectFuture[dict[str, Any]]", expected
