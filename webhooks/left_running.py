"""Sync runs a killed sync worker left Running in Prefect, closed by the worker that takes their contract.

A sync worker runs each sync in its own long-lived process, without Prefect's per-run heartbeats
(sync_worker.py says why), so when that process dies in the middle of a run, nothing tells the Prefect server:
the run would show Running for ever. The worker that next claims the contract knows better: it found the dead
worker's claim lapsed (store.leases.lapsed_holder), and the claim makes it the only worker syncing that contract,
so a Running or Pending sync run of that contract made by a sync worker (tagged spotdraft-webhook, no
deployment) is the dead one's. It is set Cancelled, named Abandoned, with the reason, before the new run
starts. Not Crashed: that would start the review (its trigger expects Failed and Crashed runs of data flows)
and ask a person about a change nothing was lost of, since the new run syncs it; the receiver's own restart is
its supervisor's to report.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("webhooks.sync_worker")

WEBHOOK_TAG = "spotdraft-webhook"
ABANDONED = "Abandoned"


def close_runs_left_running(contract_key: str) -> int:
    """Set Cancelled (Abandoned) each sync run of `contract_key` a sync worker left Running or Pending; how many."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    unfinished = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])),
        tags=FlowRunFilterTags(all_=[WEBHOOK_TAG]),
        deployment_id=FlowRunFilterDeploymentId(is_null_=True))
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["sync-contract"])),
                                     flow_run_filter=unfinished)
        left = [run for run in runs if str(run.parameters.get("contract_id")) == contract_key]
        for run in left:
            client.set_flow_run_state(run.id, Cancelled(
                name=ABANDONED, message="the sync worker running it stopped (its claim on the contract lapsed); "
                                        "a later run syncs the contract"), force=True)
            logger.warning("contract %s: flow run %s was left %s by a sync worker that stopped; set Abandoned",
                           contract_key, run.id, run.state.name if run.state else "unfinished")
    return len(left)
