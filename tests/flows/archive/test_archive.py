"""archive_contracts against the sandbox over HTTP, into a real LocalFileSystem and a real S3 server (moto, through
s3fs), recorded in SQLite and PostgreSQL: every executed contract's file once, verified, beside its older versions."""

from __future__ import annotations

import contextlib
import logging
import re
import uuid

import pytest
import sqlalchemy as sa
from prefect.filesystems import LocalFileSystem, RemoteFileSystem

from flows import archive_contracts
from flows.replays import replay_for
from store import archive_writes, archived_documents, dead_letters, engine_for
from tests.support import canary
from tests.support.archive import archived, executed_documents, link_posts, storage_gets, stored, writes
from tests.support.s3 import s3_server


@pytest.fixture
def storage(database_url, tmp_path):
    """A local folder beside SQLite, an S3 bucket beside PostgreSQL: each storage and each database once."""
    if database_url.startswith("sqlite"):
        yield LocalFileSystem(basepath=str(tmp_path / "archive"))
    else:
        with s3_server() as s3:
            yield s3.block(f"contracts-{uuid.uuid4().hex[:8]}")


def letters(database_url: str, status: str = "pending") -> dict[str, dict]:
    with engine_for(database_url).connect() as conn:
        rows = conn.execute(sa.select(dead_letters).where(dead_letters.c.status == status)).all()
    return {r.target.split(" ")[0]: dict(r._mapping) for r in rows}


def test_every_executed_file_once_then_nothing_then_a_new_version_beside_the_old(
        prefect_api, sandbox, credentials, database_url, storage):
    expected = executed_documents(sandbox)
    assert len(expected) >= 5

    first = archive_contracts(credentials, storage, database_url=database_url)
    rows = archived(database_url)
    assert first["archived"] == len(expected) and first["failed"] == 0
    assert {key: (row["sha256"], row["bytes"]) for key, row in rows.items()} == {
        (cid, str(doc["version_id"])): (doc["sha256"], doc["bytes"]) for cid, doc in expected.items()}
    assert stored(storage) == {row["path"]: row["sha256"] for row in rows.values()}  # no .part file left either
    assert all(row["path"] == f"{cid}/{vid}/{row['file_name']}" for (cid, vid), row in rows.items())
    assert writes(database_url) == []

    sandbox.reset_log()
    again = archive_contracts(credentials, storage, database_url=database_url)  # incremental: nothing changed
    assert again["archived"] == 0 and not link_posts(sandbox) and not storage_gets(sandbox)
    checked = archive_contracts(credentials, storage, database_url=database_url, full=True)
    assert checked["already_archived"] == len(expected) and checked["archived"] == 0
    assert len(link_posts(sandbox)) == len(expected) and not storage_gets(sandbox)  # asked, never downloaded
    assert archived(database_url) == rows and stored(storage) == {r["path"]: r["sha256"] for r in rows.values()}

    target = next(iter(expected))
    new = sandbox.new_version(target)
    later = archive_contracts(credentials, storage, database_url=database_url)  # the change is in its window
    assert (later["archived"], later["already_archived"]) == (1, 0)
    now = archived(database_url)
    assert set(now) == set(rows) | {(target, str(new["version_id"]))}
    files = stored(storage)
    assert files[now[target, str(new["version_id"])]["path"]] == new["sha256"]
    old = rows[target, str(expected[target]["version_id"])]
    assert files[old["path"]] == old["sha256"]  # beside the old one, never over it


def test_a_refused_link_and_a_broken_download_are_dead_letters_and_the_review_retry_archives_them(
        prefect_api, sandbox, credentials, sqlite_url, tmp_path):
    storage = LocalFileSystem(basepath=str(tmp_path / "archive"))
    refused, broken, *others = executed_documents(sandbox)
    sandbox.script("POST", re.escape(f"/contracts/{refused}/download_link") + "$", 403, times=1)
    sandbox.script("GET", re.escape(f"/_storage/documents/{broken}/"), "cut", times=20)  # more than its attempts

    state = archive_contracts(credentials, storage, database_url=sqlite_url, return_state=True)
    summary = state.result()
    assert state.name == "Dead-lettered" and (summary["failed"], summary["archived"]) == (2, len(others))
    pending = letters(sqlite_url)
    assert {k: v["error_class"] for k, v in pending.items()} == {refused: "PermissionDeniedError",
                                                                 broken: "ConnectionDropped"}
    assert pending[broken]["inputs"]["contract_id"] == broken and "url" not in pending[broken]["inputs"]
    assert {cid for cid, _ in archived(sqlite_url)} == set(others)
    assert not [p for p in stored(storage) if p.startswith((refused, broken)) or p.endswith(".part")]

    sandbox.clear_script()
    for letter in pending.values():
        replay_for(letter["operation"])(credentials, sqlite_url, letter["inputs"], None)
    assert {cid for cid, _ in archived(sqlite_url)} == {refused, broken, *others}
    assert not letters(sqlite_url) and set(letters(sqlite_url, "replayed")) == {refused, broken}


def test_a_download_cut_once_gets_a_new_link_and_an_expired_link_one_more(
        prefect_api, sandbox, credentials, sqlite_url, tmp_path):
    storage = LocalFileSystem(basepath=str(tmp_path / "archive"))
    contract = next(iter(executed_documents(sandbox)))
    sandbox.script("GET", re.escape(f"/_storage/documents/{contract}/"), "cut", times=1)
    summary = archive_contracts(credentials, storage, database_url=sqlite_url, contract_id=contract)
    assert summary["archived"] == 1 and len(link_posts(sandbox)) == 2 and len(storage_gets(sandbox)) == 2

    sandbox.new_version(contract)
    sandbox.set_download_links(-60)  # every link has expired by the time it is used
    sandbox.reset_log()
    state = archive_contracts(credentials, storage, database_url=sqlite_url, contract_id=contract, return_state=True)
    assert state.result()["failed"] == 1 and len(link_posts(sandbox)) == 2  # one fresh link, then a dead letter
    letter = letters(sqlite_url)[contract]
    assert letter["error_class"] == "PermissionDeniedError" and "ExpiredToken" in letter["error_message"]
    assert "signature" not in letter["error_message"] and "signature=" not in str(letter["context"])

    sandbox.set_download_links(900)
    replay_for("archive_contract")(credentials, sqlite_url, letter["inputs"], None)
    assert len([key for key in archived(sqlite_url) if key[0] == contract]) == 2


def test_a_storage_error_that_repeats_the_signature_leaves_it_out_of_letters_logs_and_the_summary(
        prefect_api, sandbox, credentials, sqlite_url, tmp_path, caplog):
    """A storage host may repeat what it was sent in its error text (an S3-style Message, a proxy's plain text):
    the signed URL's own signature is a secret wherever it is repeated, not only as a URL's parameter."""
    caplog.set_level(logging.INFO)
    signature = "canaryEchoedSignature4d7c"
    canary.canary_signatures(sandbox, signature, whole=True)
    xml, text = (f"<Error><Code>AccessDenied</Code><Message>Signature {signature} refused</Message></Error>",
                 f"upstream failed for {signature}")
    refused, failing, *_ = executed_documents(sandbox)
    sandbox.script("GET", re.escape(f"/_storage/documents/{refused}/"), 403, body=xml, times=5)
    sandbox.script("GET", re.escape(f"/_storage/documents/{failing}/"), 500, body=text, times=20)
    storage = LocalFileSystem(basepath=str(tmp_path / "archive"))
    state = archive_contracts(credentials, storage, database_url=sqlite_url, return_state=True)
    pending = letters(sqlite_url)
    assert set(pending) == {refused, failing} and "Signature [redacted] refused" in pending[refused]["error_message"]
    for place in (str(pending), str(state.result()), state.message, caplog.text):
        assert signature not in place


def test_a_stored_file_that_differs_from_the_download_is_a_dead_letter_with_nothing_left(
        prefect_api, sandbox, credentials, sqlite_url, tmp_path):
    from tests.support.lossy_filesystem import lossy_storage

    storage = lossy_storage(tmp_path / "archive")  # a real filesystem that loses a file's last byte
    contract = next(iter(executed_documents(sandbox)))
    state = archive_contracts(credentials, storage, database_url=sqlite_url, contract_id=contract, return_state=True)
    assert state.result()["failed"] == 1
    letter = letters(sqlite_url)[contract]
    assert letter["error_class"] == "ArchiveMismatch" and "bytes" in letter["error_message"]
    assert archived(sqlite_url) == {} and writes(sqlite_url) == []
    assert not list((tmp_path / "archive").rglob("*.*"))  # neither the final file nor its temporary one


def test_a_hostile_file_name_stays_inside_the_base_path(prefect_api, sandbox, credentials, sqlite_url, tmp_path):
    storage = LocalFileSystem(basepath=str(tmp_path / "archive"))
    contract = next(iter(executed_documents(sandbox)))
    new = sandbox.new_version(contract, file_name="../../../escaped\u202e\x00\n..")
    archive_contracts(credentials, storage, database_url=sqlite_url, contract_id=contract,
                      path_template="{format}/{contract_id}-{version_id}-{file_name}")
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".pdf"]
    assert [p.relative_to(tmp_path / "archive").as_posix() for p in files] == [
        f"pdf/{contract}-{new['version_id']}-.._.._.._escaped...pdf"]


def test_a_listed_contract_without_an_id_is_a_dead_letter_not_skipped_in_silence(
        prefect_api, sandbox, credentials, sqlite_url, tmp_path):
    storage = LocalFileSystem(basepath=str(tmp_path / "archive"))
    unnamed, *others = executed_documents(sandbox)
    sandbox.poison(unnamed, remove=["id"])  # the list shows it without its id: there is nothing to ask a link for
    state = archive_contracts(credentials, storage, database_url=sqlite_url, return_state=True)
    summary = state.result()
    assert state.name == "Dead-lettered" and (summary["archived"], summary["failed"]) == (len(others), 1)
    [letter] = letters(sqlite_url).values()
    assert letter["operation"] == "archive_contracts" and letter["error_class"] == "MalformedResponseError"
    assert letter["inputs"]["record"]["contract_status"] == "EXECUTED" and "no usable id" in letter["error_message"]

    # Asked for by its id (a webhook event), the contract is archived whatever its list record lacks.
    one = archive_contracts(credentials, storage, database_url=sqlite_url, contract_id=unnamed)
    assert one["archived"] == 1 and (unnamed, str(sandbox.document(unnamed)["version_id"])) in archived(sqlite_url)


def test_a_contract_listed_twice_in_one_pass_is_archived_once(prefect_api, sandbox, credentials, sqlite_url, tmp_path):
    """The list names one contract twice (a record that lies, or a page that shifted): the run's threads share its
    lease, so both copies were archived at once, and the second failed (NoResultFound, ArchiveMismatch)."""
    storage = LocalFileSystem(basepath=str(tmp_path / "archive"))
    twice, _between, liar, *rest = executed_documents(sandbox)
    sandbox.new_version(twice, size=30 * 1024 * 1024)  # still streaming when its second copy comes up
    sandbox.poison(liar, id=twice)  # the page reads: twice, between, twice, ...
    state = archive_contracts(credentials, storage, database_url=sqlite_url, concurrency=2, return_state=True)
    summary = state.result()
    assert state.name == "Completed", (summary["failures"], letters(sqlite_url))
    assert (summary["archived"], summary["left_to_another_run"]) == (2 + len(rest), 0)
    assert "watermark moved" in summary["pass"]
    rows = archived(sqlite_url)
    assert stored(storage) == {row["path"]: row["sha256"] for row in rows.values()} and writes(sqlite_url) == []


def test_one_contract_from_an_event_is_archived_only_in_a_status_asked_for(
        prefect_api, sandbox, credentials, sqlite_url, tmp_path):
    storage = LocalFileSystem(basepath=str(tmp_path / "archive"))
    draft = next(c for c in sandbox.snapshot() if c["contract_status"] == "DRAFT")
    skipped = archive_contracts(credentials, storage, database_url=sqlite_url, contract_id=str(draft["id"]))
    assert skipped["skipped"] == 1 and not link_posts(sandbox)
    done = archive_contracts(credentials, storage, database_url=sqlite_url, contract_id=str(draft["id"]),
                             statuses=["DRAFT", "EXECUTED"], format="DOCX_WITH_FALLBACK_TO_PDF")
    [row] = archived(sqlite_url).values()
    assert done["archived"] == 1 and row["contract_id"] == draft["composite_id"]
    assert row["sha256"] == sandbox.document(draft["id"], format="DOCX_WITH_FALLBACK_TO_PDF")["sha256"]


def test_writes_a_killed_run_left_are_finished_or_undone_by_the_next_run(
        prefect_api, sandbox, credentials, sqlite_url, tmp_path):
    storage = LocalFileSystem(basepath=str(tmp_path / "archive"))
    renamed, verified, cut, *_ = executed_documents(sandbox)
    archive_contracts(credentials, storage, database_url=sqlite_url)
    rows, base = archived(sqlite_url), tmp_path / "archive"
    engine = engine_for(sqlite_url)
    # What a kill leaves at each step: renamed but not recorded; verified but not renamed; cut before verified.
    states = {renamed: "renamed", verified: "verified", cut: "cut"}
    with engine.begin() as conn:
        for (cid, vid), row in rows.items():
            if cid not in states:
                continue
            conn.execute(archived_documents.delete().where(archived_documents.c.contract_id == cid))
            temp = f"{row['path'].rpartition('/')[0]}/.{row['file_name']}.dead0001.part"
            conn.execute(archive_writes.insert().values(
                storage=row["storage"], contract_id=cid, version_id=vid, format="PDF", path=row["path"],
                temp_path=temp, file_name=row["file_name"], started_at=row["archived_at"],
                **({"bytes": row["bytes"], "sha256": row["sha256"], "verified": row["verified"]}
                   if states[cid] != "cut" else {})))
            if states[cid] != "renamed":
                (base / row["path"]).rename(base / temp)
    summary = archive_contracts(credentials, storage, database_url=sqlite_url)  # incremental: none is listed
    assert summary["finished_from_killed_runs"] == 3 and summary["archived"] == 1  # the cut one, again
    assert archived(sqlite_url).keys() == rows.keys() and writes(sqlite_url) == []
    assert stored(storage) == {row["path"]: row["sha256"] for row in rows.values()}


@pytest.mark.parametrize("kind", ["a base path that is a file", "an S3 bucket that does not exist"])
def test_a_storage_that_cannot_hold_a_file_is_refused_before_any_request(
        prefect_api, sandbox, credentials, sqlite_url, tmp_path, kind):
    """Not one dead letter per contract (each file downloaded, then thrown away) for what is wrong with the storage
    as a whole: the run stops at once and says so."""
    with contextlib.ExitStack() as stack:
        if kind.startswith("a base path"):
            (tmp_path / "archive").write_text("a file, not a folder")
            storage, said = LocalFileSystem(basepath=str(tmp_path / "archive")), "cannot be written"
        else:
            s3 = stack.enter_context(s3_server())
            storage, said = RemoteFileSystem(basepath="s3://no-such-bucket/contracts", settings=s3.settings()), \
                "bucket does not exist"
        state = archive_contracts(credentials, storage, database_url=sqlite_url, return_state=True)
    assert state.is_failed() and said in state.message
    assert sandbox.request_log() == [] and letters(sqlite_url) == {}


@pytest.mark.parametrize("change, refusal", [
    ({"path_template": "{contract_id}/{file_name}"}, "must hold {version_id}"),
    ({"path_template": "../{contract_id}/{version_id}"}, ". or .. folder"),
    ({"path_template": "/abs/{contract_id}/{version_id}"}, "relative"),
    ({"path_template": "{contract_id}/{version_id}/{name}"}, "unknown field"),
    ({"statuses": []}, "statuses is empty"),
    ({"contract_id": "T-12; DROP"}, "contract_id must look like"),
])
def test_bad_input_is_refused_before_any_request(prefect_api, sandbox, credentials, sqlite_url, tmp_path, change,
                                                 refusal):
    storage = LocalFileSystem(basepath=str(tmp_path / "archive"))
    with pytest.raises(ValueError, match=re.escape(refusal)):
        archive_contracts(credentials, storage, database_url=sqlite_url, **change)
    assert sandbox.request_log() == []
