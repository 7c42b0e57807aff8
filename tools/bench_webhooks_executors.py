"""What runs the webhook benchmark's syncs (tools/bench_webhooks.py): each way of executing sync_contract for a
stored delivery, started beside the receiver and stopped with the stack.

    receiver     the receiver's own sync worker (python -m webhooks): a flow run per settled contract, in
                 a thread of the receiver's process; the default, what the README documents
    sync-worker  python -m webhooks --no-sync and python -m webhooks.sync_worker: the same in a process of its own
    deployment   python -m webhooks --no-sync, the sync-contract-on-change deployment with its trigger turned on and
                 a process worker: a new Python process per event (the path before the sync worker)
    serve        python -m webhooks --no-sync and the same trigger on a deployment that `serve()` runs in a
                 long-lived process: a new Python process per event (`python -m prefect.engine`; the flow given
                 from source: Prefect's other way, a spawned process given the pickled flow, fails this flow's
                 parameter validation in Prefect 3.9.1, "Sync_ContractModel is not fully defined")
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import yaml

from tools.bench_webhooks_stack import (
    REPO,
    api,
    background,
    prefect_cli,
    wait_until,
    worker,
)

EXECUTORS = ("receiver", "sync-worker", "deployment", "serve")
DEPLOYMENT = "sync-contract/sync-contract-on-change"
SERVED = "sync-contract/sync-contract-served"
WORKER_SETTLE_S = 1.0  # the sync worker's default (webhooks.sync_worker.DEFAULT_SETTLE_S)
FLOW_SETTLE_S = 2.0  # the flow's default, which the trigger's runs use


def settle_seconds(executor: str) -> float:
    return WORKER_SETTLE_S if executor in ("receiver", "sync-worker") else FLOW_SETTLE_S


def start(executor: str, stack: contextlib.ExitStack, env: dict[str, str], home: Path, database_url: str,
          sync_concurrency: int | None = None) -> list[str]:
    """Start what `executor` needs beside the receiver; returns the receiver's extra arguments."""
    at_once = [] if sync_concurrency is None else [str(sync_concurrency)]
    if executor == "receiver":
        return ["--sync-concurrency", *at_once] if at_once else []
    if executor == "sync-worker":
        stack.enter_context(background(env, home / "sync-worker.log", "-m", "webhooks.sync_worker",
                                       "--database-url", database_url,
                                       *(["--concurrency", *at_once] if at_once else [])))
    elif executor == "deployment":
        deploy_with_trigger(env, home, database_url)
        stack.enter_context(worker(env, home / "worker.log"))
    elif executor == "serve":
        stack.enter_context(background({**env, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}, home / "serve.log",
                                       "-c", SERVE, database_url))
        wait_until(lambda: _deployment_exists(env, SERVED), 120, "the served deployment")
    else:
        raise ValueError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    return ["--no-sync"]


def deploy_with_trigger(env: dict[str, str], home: Path, database_url: str) -> None:
    """The work pool and the sync-contract-on-change deployment as deployments/prefect.yaml declares it, its
    trigger turned on (it is off there: the sync worker syncs) and its runs writing `database_url`."""
    declared = yaml.safe_load((REPO / "deployments" / "prefect.yaml").read_text())
    [deployment] = [d for d in declared["deployments"] if d["name"] == DEPLOYMENT.split("/")[1]]
    for trigger in deployment["triggers"]:
        trigger["enabled"] = True
    deployment["parameters"]["database_url"] = database_url
    copy = home / "prefect.yaml"
    copy.write_text(yaml.safe_dump({**declared, "deployments": [deployment]}, sort_keys=False))
    prefect_cli(env, "work-pool", "create", "spotdraft", "--type", "process", "--overwrite")
    # Its runs clone this checkout (the pull step; deployments/steps.py), whatever its origin.
    prefect_cli({**env, "SPOTDRAFT_GIT_REPOSITORY": str(REPO)}, "deploy", "--name", deployment["name"],
                "--prefect-file", str(copy))


def _deployment_exists(env: dict[str, str], name: str) -> bool:
    async def read(client):
        with contextlib.suppress(Exception):
            return await client.read_deployment_by_name(name)

    return api(env, read) is not None


# The served deployment: a long-lived process serving it, its runs started by the same trigger.
SERVE = f"""
import asyncio, sys
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.events import DeploymentEventTrigger

sync_contract = Flow.from_source(source={str(REPO)!r}, entrypoint="flows/sync_contract.py:sync_contract")

async def credentials_reference():
    async with get_client() as client:
        document = await client.read_block_document_by_name("spotdraft", "spotdraft-credentials")
    return {{"$ref": {{"block_document_id": str(document.id)}}}}

trigger = DeploymentEventTrigger(enabled=True, posture="Reactive", threshold=1, within=0,
                                 match={{"prefect.resource.id": "spotdraft.contract.*"}},
                                 expect={{"spotdraft.contract.*"}},
                                 parameters={{"contract_id": "{{{{ event.resource['spotdraft.contract.id'] }}}}"}})
sync_contract.serve(name={SERVED.split("/")[1]!r}, triggers=[trigger], tags=["spotdraft", "spotdraft-data"],
                    parameters={{"credentials": asyncio.run(credentials_reference()), "database_url": sys.argv[1]}})
"""
