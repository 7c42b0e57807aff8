"""Fixtures of the sandbox's webhook tests: a sandbox with the canary key and quick delivery settings, listeners
made on demand (and closed, their gates opened, after the test), and the spec's schema of a delivery."""

from __future__ import annotations

import threading

import pytest

from sandbox import Sandbox
from tests.support.paths import spotdraft_spec
from tests.support.sandbox_webhooks import CANARY_KEY, FAST, Listener
from tools.synthesize_answers import response_validator


@pytest.fixture(scope="session")
def activity_schema():
    return response_validator(spotdraft_spec(), {"$ref": "#/components/schemas/ContractActivityDomainModel"})


@pytest.fixture
def listen():
    made: list[Listener] = []

    def make(statuses: tuple[int, ...] = (), gate: threading.Event | None = None) -> Listener:
        made.append(Listener(statuses, gate))
        return made[-1]

    yield make
    for listener in made:
        if listener.gate is not None:
            listener.gate.set()
        listener.close()


@pytest.fixture
def sb():
    with Sandbox(contracts=10, seed=3, webhook_key=CANARY_KEY) as sandbox:
        sandbox.set_webhook_delivery(**FAST)
        yield sandbox

