"""The build step behind the archive deployments' storage: a reference by id to the block named for it, and whether
the deployments' schedule and trigger are on (only when that block exists, so deploying never needs it)."""

from __future__ import annotations

import uuid

from prefect.filesystems import LocalFileSystem, RemoteFileSystem

from blocks.deploy_steps import storage_reference


def test_no_block_leaves_the_archive_off_and_either_filesystem_block_turns_it_on(prefect_api, tmp_path, capsys):
    name = f"archive-{uuid.uuid4().hex[:8]}"
    assert storage_reference(name) == {"enabled": False}  # no "reference": prefect deploy leaves storage out
    assert "schedule and trigger off" in capsys.readouterr().out

    local_id = LocalFileSystem(basepath=str(tmp_path)).save(name)
    assert storage_reference(name) == {"reference": {"$ref": {"block_document_id": str(local_id)}}, "enabled": True}

    other = f"archive-{uuid.uuid4().hex[:8]}"
    remote_id = RemoteFileSystem(basepath="s3://bucket/contracts", settings={"key": "not-read"}).save(other)
    assert storage_reference(other)["reference"] == {"$ref": {"block_document_id": str(remote_id)}}
