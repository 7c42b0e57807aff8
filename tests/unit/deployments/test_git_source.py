"""The repository and ref every flow run clones are decided when deploying (deployments.steps.git_source): from
SPOTDRAFT_GIT_REPOSITORY and SPOTDRAFT_GIT_REF, else from the checkout `prefect deploy` runs in; a clear error
where neither says. Real git repositories in temporary directories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from deployments.steps import docker_image, git_source


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A repository with one commit, a bare origin holding it, and a clone of that: the deploying checkout."""
    for name in ("SPOTDRAFT_GIT_REPOSITORY", "SPOTDRAFT_GIT_REF"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "t")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "t@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "t")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "t@example.com")
    first = tmp_path / "first"
    first.mkdir()
    git(first, "init", "-q", "-b", "main")
    (first / "flow.py").write_text("x = 1\n")
    git(first, "add", "-A")
    git(first, "commit", "-q", "-m", "one")
    git(tmp_path, "clone", "-q", "--bare", str(first), "origin.git")
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), "deployer")
    monkeypatch.chdir(tmp_path / "deployer")
    return tmp_path / "deployer"


def test_by_default_the_runs_clone_origin_at_the_commit_checked_out(checkout, capsys):
    head = git(checkout, "rev-parse", "HEAD")
    assert git_source() == {"repository": str(checkout.parent / "origin.git"), "branch": None, "commit_sha": head}
    assert capsys.readouterr().out == ""  # pushed, nothing uncommitted: nothing to warn of


def test_a_commit_not_pushed_and_uncommitted_changes_are_warned_of(checkout, capsys):
    (checkout / "flow.py").write_text("x = 2\n")
    git(checkout, "commit", "-q", "-am", "two")
    (checkout / "flow.py").write_text("x = 3\n")
    head = git(checkout, "rev-parse", "HEAD")
    assert git_source()["commit_sha"] == head
    out = capsys.readouterr().out
    assert f"Uncommitted changes here are not deployed: the flow runs clone commit {head[:12]}" in out
    assert f"Commit {head[:12]} is on no branch of origin" in out and "SPOTDRAFT_GIT_REF" in out


def test_without_origin_the_runs_clone_this_checkout(checkout, capsys):
    git(checkout, "remote", "remove", "origin")
    assert git_source()["repository"] == str(checkout)
    assert "only a worker on this machine can reach" in capsys.readouterr().out


@pytest.mark.parametrize("ref, branch, commit", [
    ("main", "main", None),
    ("v1.2.0", "v1.2.0", None),
    ("a" * 40, None, "a" * 40),
    ("abc1234", "abc1234", None),  # git fetches no abbreviated id: a short one can only be a branch or tag name
])
def test_the_variables_choose_the_repository_and_ref(checkout, monkeypatch, ref, branch, commit):
    monkeypatch.setenv("SPOTDRAFT_GIT_REPOSITORY", "https://git.example.com/acme/prefect-spotdraft.git")
    monkeypatch.setenv("SPOTDRAFT_GIT_REF", ref)
    assert git_source() == {"repository": "https://git.example.com/acme/prefect-spotdraft.git", "branch": branch,
                            "commit_sha": commit}


def test_outside_a_checkout_both_variables_are_needed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # no repository above tmp_path either
    monkeypatch.delenv("SPOTDRAFT_GIT_REPOSITORY", raising=False)
    monkeypatch.delenv("SPOTDRAFT_GIT_REF", raising=False)
    with pytest.raises(ValueError, match="set SPOTDRAFT_GIT_REPOSITORY and SPOTDRAFT_GIT_REF"):
        git_source()
    monkeypatch.setenv("SPOTDRAFT_GIT_REPOSITORY", "git@git.example.com:acme/prefect-spotdraft.git")
    monkeypatch.setenv("SPOTDRAFT_GIT_REF", "main")
    assert git_source()["branch"] == "main"


def test_the_docker_image_is_the_variable_else_the_dockerfile_tag(monkeypatch):
    monkeypatch.delenv("SPOTDRAFT_IMAGE", raising=False)
    assert docker_image() == {"name": "prefect-spotdraft:latest"}
    monkeypatch.setenv("SPOTDRAFT_IMAGE", "registry.example.com/prefect-spotdraft:1.4")
    assert docker_image() == {"name": "registry.example.com/prefect-spotdraft:1.4"}
