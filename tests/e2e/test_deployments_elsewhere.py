"""The deployments run wherever the project is installed, not where they were deployed from.

Deployed from a clone (of a bare repository made from this one's HEAD) that is deleted before anything runs,
their runs go to a process worker started in another fresh clone: each run clones the code itself (the pull
step) and writes the worker's default database (its user's data directory), nothing in the worker's directory.
The docker file deploys the same deployments on a docker pool (no Docker here: deployed, not run).
A real `prefect server`, a real process worker, the sandbox over loopback HTTP, real git.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from store import contracts, dispose_engine, engine_for
from tests.support.paths import ROOT
from tests.support.prefect_rest import pause_schedules, rest
from tests.support.prefect_server import cli, run_deployment, wait_for
from tools.bench_webhooks_stack import save_credentials
from tools.docker_deployments import DOCKER_FILE
from tools.prefect_server import local_prefect_server, stop_process_group

SYNC = "sync-contracts/sync-contracts-hourly"
WORKER_ENV = {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5",
              "PREFECT_LOGGING_LEVEL": "INFO"}


def git(*args, cwd=None) -> str:
    done = subprocess.run(["git", *map(str, args)], cwd=cwd, check=True, capture_output=True, text=True, timeout=120)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A Prefect server with the credentials document and both work pools, the sandbox, and the deployments made
    from a clone of a bare repository (this one's HEAD), which is deleted once they are made."""
    base = tmp_path_factory.mktemp("elsewhere")
    origin, deployer = base / "origin.git", base / "deployer"
    with Sandbox(contracts=25, seed=5) as sb, local_prefect_server(base / "prefect-home") as prefect_env:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTDRAFT_GIT_", "SPOTDRAFT_DATABASE"))}
        env.update(prefect_env, **WORKER_ENV)
        save_credentials(env, sb)
        cli(env, "work-pool", "create", "spotdraft", "--type", "process", "--overwrite")
        cli(env, "work-pool", "create", "spotdraft-docker", "--type", "docker", "--overwrite")
        git("clone", "--quiet", "--bare", ROOT, origin)
        git("clone", "--quiet", origin, deployer)
        commit = git("rev-parse", "HEAD", cwd=deployer)
        cli(env, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml", cwd=deployer)
        pause_schedules(env)  # only the runs a test starts
        shutil.rmtree(deployer)  # a run that needed the deploying checkout would fail now
        yield {"env": env, "sandbox": sb, "origin": origin, "commit": commit, "deployed": deployments(env)}


def deployments(env: dict) -> dict[str, dict]:
    """Every deployment ("flow/name") as the server holds it, with the automations that run it."""
    flows = {f["id"]: f["name"] for f in rest(env, "POST", "/flows/filter", {})}
    automations = rest(env, "POST", "/automations/filter", {})
    found = {}
    for deployment in rest(env, "POST", "/deployments/filter", {}):
        deployment["automations"] = [a for a in automations if any(
            action.get("deployment_id") == deployment["id"] for action in a.get("actions", []))]
        found[f"{flows[deployment['flow_id']]}/{deployment['name']}"] = deployment
    return found


# Fields Prefect's EventTrigger holds as sets: the server lists them in whatever order each process hashes them.
SET_FIELDS = ("expect", "after")


def without_ids(value):
    """A trigger as written (its ids are new each time it is deployed, and its sets have no order)."""
    if isinstance(value, dict):
        return {k: sorted(v) if k in SET_FIELDS else without_ids(v) for k, v in value.items() if k != "id"}
    return [without_ids(v) for v in value] if isinstance(value, list) else value


@pytest.mark.timeout(600)  # a real server, a deploy, a worker and a flow-run process, on a shared 2-core machine
def test_a_worker_in_another_clone_runs_what_a_clone_now_gone_deployed(stack, tmp_path):
    env, sb = stack["env"], stack["sandbox"]
    assert stack["deployed"][SYNC]["pull_steps"] == [{"prefect.deployments.steps.git_clone": {
        "repository": str(stack["origin"]), "branch": None, "commit_sha": stack["commit"]}}]
    assert all("database_url" not in d["parameters"] for d in stack["deployed"].values())

    elsewhere, data_home = tmp_path / "worker", tmp_path / "worker-data"
    git("clone", "--quiet", stack["origin"], elsewhere)
    with open(tmp_path / "worker.log", "wb") as output:
        worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", "spotdraft"],
                                  cwd=elsewhere, env={**env, "XDG_DATA_HOME": str(data_home)}, stdout=output,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            run = run_deployment(env, SYNC, {})
            wait_for(env, run, {"COMPLETED"}, timeout=300)
        finally:
            stop_process_group(worker, grace=3)

    database = f"sqlite:///{data_home / 'spotdraft' / 'spotdraft.db'}"
    try:
        with engine_for(database).connect() as conn:
            stored = {row.id for row in conn.execute(sa.select(contracts.c.id))}
    finally:
        dispose_engine(database)
    assert stored == {c["composite_id"] for c in sb.snapshot()}
    assert git("status", "--porcelain", "--ignored", cwd=elsewhere) == ""  # nothing written in the worker's clone
    messages = [line["message"] for line in rest(env, "POST", "/logs/filter",
                                                 {"logs": {"flow_run_id": {"any_": [str(run)]}}})]
    assert "Deployment step 'git_clone' completed successfully" in messages, messages[:20]


@pytest.mark.timeout(600)
def test_the_docker_file_makes_the_same_deployments_on_the_docker_pool(stack, tmp_path):
    """Deployed under names of their own (a suffix), so that the process deployments stay as they are."""
    env = stack["env"]
    text = DOCKER_FILE.read_text(encoding="utf-8")
    renamed, count = re.subn(r"^  - name: (\S+)$", r"  - name: \1-docker", text, flags=re.M)
    assert count == len(stack["deployed"])
    (tmp_path / "prefect.docker.yaml").write_text(renamed, encoding="utf-8")
    image = "registry.example.com/prefect-spotdraft:1.0"
    cli({**env, "SPOTDRAFT_IMAGE": image}, "deploy", "--all", "--prefect-file", str(tmp_path / "prefect.docker.yaml"))
    pause_schedules(env)
    on_docker = {name.removesuffix("-docker"): d for name, d in deployments(env).items() if name.endswith("-docker")}

    def same_in_both(deployment: dict) -> dict:
        # By slug: the server lists a deployment's schedules by when each was last updated (pausing one updates it).
        schedules = sorted(({k: s[k] for k in ("slug", "parameters", "schedule")} for s in deployment["schedules"]),
                           key=lambda s: s["slug"])
        triggers = [{"trigger": without_ids(a["trigger"]), "enabled": a["enabled"]} for a in deployment["automations"]]
        return {"entrypoint": deployment["entrypoint"], "parameters": deployment["parameters"],
                "schema": deployment["parameter_openapi_schema"], "tags": deployment["tags"],
                "description": deployment["description"], "schedules": schedules, "triggers": triggers,
                "concurrency": (deployment.get("global_concurrency_limit") or {}).get("limit"),
                "collisions": deployment["concurrency_options"]}

    assert set(on_docker) == set(stack["deployed"])
    for name, deployment in on_docker.items():
        assert same_in_both(deployment) == same_in_both(stack["deployed"][name]), name
        assert deployment["work_pool_name"] == "spotdraft-docker"
        assert deployment["job_variables"] == {
            "image": image, "volumes": ["spotdraft-data:/home/spotdraft/.local/share/spotdraft"]}
        assert deployment["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": "/opt/prefect-spotdraft"}}]
