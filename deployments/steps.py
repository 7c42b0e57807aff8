"""`prefect deploy` build steps: where the workers get the code, and which image the docker pool runs.

deployments/prefect.yaml's pull step clones a git repository at a ref in every flow run, in the directory
the worker gives the run; the entrypoints (flows/sync.py:...) are relative to that clone. The repository
and ref are decided when deploying, by `git_source`, and stored in the deployments:

    build:
      - deployments.steps.git_source:
          id: source
    pull:
      - prefect.deployments.steps.git_clone:
          repository: "{{ source.repository }}"
          branch: "{{ source.branch }}"
          commit_sha: "{{ source.commit_sha }}"

(Not `{{ $VARIABLE }}` in the pull step itself: Prefect resolves those in the worker's environment at run
time, and has no default for an unset one.) The clone uses the worker's own git credentials (an SSH key,
a credential helper); Prefect's git_clone also takes an `access_token` from a Secret block.
deployments/prefect.docker.yaml runs the code its image holds instead, and asks `docker_image` for the image.
"""

from __future__ import annotations

import os
import re
import subprocess

REPOSITORY_VARIABLE = "SPOTDRAFT_GIT_REPOSITORY"
REF_VARIABLE = "SPOTDRAFT_GIT_REF"
IMAGE_VARIABLE = "SPOTDRAFT_IMAGE"
DEFAULT_IMAGE = "prefect-spotdraft:latest"  # the tag the README's `docker build` gives
_COMMIT = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")  # a full SHA-1 or SHA-256 id: git fetches no shorter one


def git_source() -> dict[str, str | None]:
    """The repository and the ref every flow run clones: `repository`, and `branch` or `commit_sha` (the other None).

    repository: $SPOTDRAFT_GIT_REPOSITORY, else this checkout's `origin` remote, else this checkout itself (a
    worker on this machine only). ref: $SPOTDRAFT_GIT_REF, a branch or tag (each run clones its newest commit)
    or a full commit id; else the commit checked out here, so that every run runs the code whose parameter
    forms `prefect deploy` has just made. Read from the directory `prefect deploy` runs in.
    """
    repository = os.environ.get(REPOSITORY_VARIABLE, "").strip()
    ref = os.environ.get(REF_VARIABLE, "").strip()
    from_origin = False
    if not repository:
        repository = _git("remote", "get-url", "origin", missing_ok=True)
        from_origin = bool(repository)
        if not repository:
            repository = _git("rev-parse", "--show-toplevel")
            print(f"No git remote named origin: the flow runs clone this checkout ({repository}), which only a "
                  f"worker on this machine can reach. Set {REPOSITORY_VARIABLE} for workers elsewhere.")
    if ref:
        return _source(repository, ref)
    commit = _git("rev-parse", "HEAD")
    if _git("status", "--porcelain", "--untracked-files=no"):
        print(f"Uncommitted changes here are not deployed: the flow runs clone commit {commit[:12]}.")
    if from_origin and not _git("branch", "--remotes", "--contains", commit, missing_ok=True):
        print(f"Commit {commit[:12]} is on no branch of origin that this checkout knows of: push it before a run "
              f"starts (the runs clone it from {repository}), or set {REF_VARIABLE}.")
    return _source(repository, commit)


def docker_image() -> dict[str, str]:
    """The image the docker pool's flow runs start from: $SPOTDRAFT_IMAGE, else prefect-spotdraft:latest."""
    return {"name": os.environ.get(IMAGE_VARIABLE, "").strip() or DEFAULT_IMAGE}


def _source(repository: str, ref: str) -> dict[str, str | None]:
    commit = bool(_COMMIT.fullmatch(ref))
    return {"repository": repository, "branch": None if commit else ref, "commit_sha": ref if commit else None}


def _git(*args: str, missing_ok: bool = False) -> str:
    """git's answer from the current directory, stripped; "" when it fails and `missing_ok`."""
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=60)
        failure = done.stderr.strip() if done.returncode else ""
    except FileNotFoundError:
        failure = "git is not installed"
    if not failure:
        return done.stdout.strip()
    if missing_ok:
        return ""
    raise ValueError(
        f"`git {' '.join(args)}` failed here ({failure}): deploy from a git checkout of the project, or set "
        f"{REPOSITORY_VARIABLE} and {REF_VARIABLE} to the repository and ref the workers clone"
    )
