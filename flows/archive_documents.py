"""One contract's document into the archive: its link, the file streamed to a temporary name, read back,
renamed, recorded (store.archive says in which order, and why a kill loses nothing).

Everything about one contract happens under its lease (store.leases), so a daily run and a run started
by a webhook event never write the same file at once. A link is asked for on every try, since links
expire: a try that breaks off midway is retried with a new one under the client's retry policy, and a
storage that answers 403 (an expired link) gets one new link at once. Whatever still fails is that
contract's outcome, for its dead letter; the other contracts go on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from client import SpotDraftClient
from client import errors as E
from client.signed_reads import chunks, open_signed, with_retries
from flows.archive_paths import render
from flows.archive_storage import ArchiveMismatch, ArchiveStorage, Digests
from store import archive, leases
from store.archive import DocumentKey

LEASE_RENEW_SECONDS = 60  # a long download keeps its contract's lease (store.leases.LEASE_SECONDS) alive


@dataclass(frozen=True)
class Job:
    """What a run archives, where to, and with what."""

    client: SpotDraftClient
    engine: Engine
    storage: ArchiveStorage
    format: str
    path_template: str
    statuses: tuple[str, ...]
    holder: str  # the lease holder: this flow run
    logger: Any = None

    def target(self, contract_id: str) -> str:
        """A dead letter's target: the contract, the format and the storage."""
        return f"{contract_id} {self.format} -> {self.storage.location}"


@dataclass
class Outcome:
    contract_id: str
    status: str  # ARCHIVED, ALREADY, FAILED, LEFT, SKIPPED
    version_id: str | None = None
    bytes: int = 0
    path: str | None = None
    finished_left: int = 0  # writes of a killed run completed (or undone) first
    error: BaseException | None = field(default=None, repr=False)


ARCHIVED, ALREADY, FAILED, LEFT, SKIPPED = "archived", "already archived", "failed", "left to another run", "skipped"


def lease_key(job: Job, contract_id: str) -> str:
    return f"archive:{job.storage.location}:{contract_id}"


def archive_contract(job: Job, contract_id: str, wait_seconds: float = 0.0) -> Outcome:
    """Archive the contract's current version, unless it already is; any failure is the outcome's `error`.

    With `wait_seconds`, a contract another run is archiving is waited for that long (a run for one
    contract, started by an event); otherwise it is left to that run.
    """
    key, deadline = lease_key(job, contract_id), time.monotonic() + wait_seconds
    while not leases.acquire(job.engine, key, job.holder):
        if time.monotonic() >= deadline:
            return Outcome(contract_id, LEFT)
        time.sleep(0.5)
    try:
        finished = finish_left_writes(job, contract_id)
        outcome = _archive(job, contract_id)
        outcome.finished_left = finished
        return outcome
    except Exception as error:  # one contract's failure, whatever it is, is that contract's dead letter
        return Outcome(contract_id, FAILED, error=error)
    finally:
        leases.release(job.engine, key, job.holder)


def finish_left_writes(job: Job, contract_id: str) -> int:
    """Complete the contract's writes a killed run left (verified, then renamed or not yet), or undo them."""
    done = 0
    for write in archive.writes_left(job.engine, job.storage.location, contract_id):
        key, storage = archive.key_of(write), job.storage
        if write["sha256"] is not None and storage.size(write["path"]) == write["bytes"]:
            storage.remove(write["temp_path"])  # an object store's rename is a copy, then a delete: killed between
            archive.complete(job.engine, key, note="; finished by a later run")
        elif write["sha256"] is not None and storage.size(write["temp_path"]) == write["bytes"]:
            _place(job, key, write["path"], write["temp_path"], write["bytes"], note="; finished by a later run")
        else:  # cut off before it was verified: nothing under the final name; start again
            storage.remove(write["temp_path"])
            archive.abandon(job.engine, key)
        done += 1
    return done


def _archive(job: Job, contract_id: str) -> Outcome:
    budget = job.client.new_budget()
    renewed = [time.monotonic()]

    def keep_lease() -> None:
        if time.monotonic() - renewed[0] >= LEASE_RENEW_SECONDS:
            leases.acquire(job.engine, lease_key(job, contract_id), job.holder)  # the holder's own: renewed
            renewed[0] = time.monotonic()

    def attempt(fresh_links: int = 1) -> Outcome:
        link = _link(job, contract_id, budget)
        key = DocumentKey(job.storage.location, contract_id, link["version_id"], job.format)
        if archive.is_archived(job.engine, key):
            return Outcome(contract_id, ALREADY, key.version_id)
        kind = link["file_name"].rpartition(".")[2].lower() if "." in link["file_name"] else job.format.lower()
        path = render(job.path_template, {"contract_id": contract_id, "version_id": key.version_id,
                                          "file_name": link["file_name"], "format": kind})
        temp = job.storage.temp_path(path)
        archive.begin_write(job.engine, key, path=path, temp_path=temp, file_name=link["file_name"],
                            storage_block=job.storage.block_name)
        try:
            response = open_signed(job.client, link["url"], budget)
        except E.PermissionDeniedError:
            archive.abandon(job.engine, key)
            if fresh_links:  # an expired link: SpotDraft's links are temporary, a new one is one request away
                return attempt(fresh_links - 1)
            raise
        try:
            length = response.headers.get("content-length")
            digests = job.storage.write(temp, chunks(response, budget), keep_lease,
                                        int(length) if length and length.isdigit() else None)
            verified = job.storage.verify(temp, digests)
        except BaseException:
            job.storage.remove(temp)
            archive.abandon(job.engine, key)
            raise
        finally:
            response.close()
        content_type = response.headers.get("content-type", "").split(";")[0].strip() or None
        archive.mark_verified(job.engine, key, size=digests.size, sha256=digests.sha256.hexdigest(),
                              content_type=content_type, verified=verified)
        _place(job, key, path, temp, digests.size, digests=digests)
        return Outcome(contract_id, ARCHIVED, key.version_id, digests.size, path)

    return with_retries(job.client, attempt, budget, job.logger)


def _link(job: Job, contract_id: str, budget) -> dict[str, Any]:
    """The download link's url, file name and version, or a MalformedResponseError naming what is missing."""
    answer = job.client.call("get_contract_download_link", path_params={"composite_id": contract_id},
                             body={"format": job.format}, budget=budget, logger=job.logger)
    answer = answer if isinstance(answer, dict) else {}
    url, name, version = answer.get("url"), answer.get("file_name"), answer.get("current_version_id")
    missing = [n for n, v in (("url", url), ("file_name", name), ("current_version_id", version))
               if not isinstance(v, str | int) or isinstance(v, bool) or str(v).strip() == ""]
    if missing:
        raise E.MalformedResponseError(
            f"the download link answer has no {', '.join(missing)} (a version id is what keeps each version "
            "archived once)", E.ErrorContext(operation="get_contract_download_link", external_ids=(contract_id,)))
    return {"url": str(url), "file_name": str(name), "version_id": str(version)}


def _place(job: Job, key: DocumentKey, path: str, temp: str, size: int, *, digests: Digests | None = None,
           note: str = "") -> None:
    """Move the verified temporary file to `path` and record it; a file already there is never overwritten."""
    storage = job.storage
    if storage.exists(path):
        same = digests is not None and storage.size(path) == size and storage.sha256_of(path) == \
            digests.sha256.hexdigest()
        storage.remove(temp)
        if not same:
            archive.abandon(job.engine, key)
            raise ArchiveMismatch(f"{path}: another file is already there; the archive never overwrites one "
                                  "(move it away, or change path_template)")
        note += "; the same file was already at its path"
    else:
        storage.rename(temp, path)
        try:
            storage.check_size(path, size)
        except ArchiveMismatch:  # not left under its final name without a row
            storage.remove(path)
            archive.abandon(job.engine, key)
            raise
    archive.complete(job.engine, key, note=note)
