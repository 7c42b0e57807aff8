"""The two deployment files make the same deployments, on a process pool (each run clones the code) and on a
docker pool (each run is a container of the Dockerfile's image); no parameter ties a run to a directory; the
Dockerfile and the docker file agree on where the code and the default database are. The files as written;
tests/e2e/test_deployments_elsewhere.py deploys them on a real Prefect server."""

from __future__ import annotations

import copy
import re

import yaml

from tests.support.paths import ROOT
from tools.docker_deployments import DATA_DIRECTORY, DOCKER_FILE, PROCESS_FILE, PROJECT_DIRECTORY, docker_variant


def load(path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_docker_file_is_the_one_written_from_the_process_file():
    assert DOCKER_FILE.read_text(encoding="utf-8") == docker_variant(PROCESS_FILE.read_text(encoding="utf-8")), (
        "deployments/prefect.docker.yaml is not current: run .venv/bin/python -m tools.docker_deployments")


def test_both_make_the_same_deployments_on_their_own_pools():
    process, docker = load(PROCESS_FILE), load(DOCKER_FILE)

    def without_pool(config: dict) -> list[dict]:
        deployments = copy.deepcopy(config["deployments"])
        for deployment in deployments:
            deployment.pop("work_pool")
        return deployments

    assert without_pool(process) == without_pool(docker) and len(process["deployments"]) >= 7
    assert {d["work_pool"]["name"] for d in process["deployments"]} == {"spotdraft"}
    assert {d["work_pool"]["name"] for d in docker["deployments"]} == {"spotdraft-docker"}
    assert process["build"][:-1] == docker["build"][:-1]  # the credentials and storage steps
    [clone] = process["pull"]
    assert clone == {"prefect.deployments.steps.git_clone": {
        "repository": "{{ source.repository }}", "branch": "{{ source.branch }}",
        "commit_sha": "{{ source.commit_sha }}"}}
    assert process["build"][-1] == {"deployments.steps.git_source": {"id": "source"}}
    assert docker["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": PROJECT_DIRECTORY}}]
    assert docker["build"][-1] == {"deployments.steps.docker_image": {"id": "image"}}
    job = docker["deployments"][0]["work_pool"]["job_variables"]
    assert job["image"] == "{{ image.name }}" and job["volumes"] == [f"spotdraft-data:{DATA_DIRECTORY}"]


def test_no_parameter_names_a_database_relative_to_the_run_directory():
    for deployment in load(PROCESS_FILE)["deployments"]:
        url = (deployment.get("parameters") or {}).get("database_url")
        assert url is None or not re.match(r"sqlite:///[^/]", url), deployment["name"]


def test_the_dockerfile_installs_the_locked_project_where_the_docker_file_runs_it_as_a_user_not_root():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line.split(None, 1) for line in text.splitlines() if line and not line.startswith(("#", " "))]
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert re.fullmatch(r"python:3\.\d+-slim", froms[-1]), froms
    assert [rest for word, rest in instructions if word == "WORKDIR"] == [PROJECT_DIRECTORY]
    assert [rest for word, rest in instructions if word == "USER"] == ["spotdraft"]
    assert "useradd --create-home" in text and f"mkdir -p {DATA_DIRECTORY}" in text
    assert "uv sync --frozen --no-dev\n" in text.replace(" \\\n", "\n")
    makefile_uv = re.search(r"^UV_VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.M)[1]
    assert f"ARG UV_VERSION={makefile_uv}" in text
