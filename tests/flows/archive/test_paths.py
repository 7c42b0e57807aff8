"""path_template: refused before any request when it could leave the base path or overwrite a version, and every
untrusted value (SpotDraft's file name above all) made safe inside one path segment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.archive_paths import DEFAULT_TEMPLATE, MAX_SEGMENT_BYTES, check_template, render


@pytest.mark.parametrize("template, refusal", [
    ("", "empty"), ("{contract_id}/{file_name}", "{version_id}"), ("{version_id}", "{contract_id}"),
    ("/{contract_id}/{version_id}", "relative"), ("~/{contract_id}/{version_id}", "relative"),
    ("{contract_id}/../{version_id}", ". or .."), ("{contract_id}//{version_id}", "empty"),
    ("{contract_id}\\{version_id}", "backslash"), ("{contract_id}\n{version_id}", "control"),
    ("{contract_id}/{version_id}/{name}", "unknown"), ("{contract_id}/{version_id:>4}", "format spec"),
    ("{contract_id}/{version_id!r}", "conversion"), ("{contract_id}/{version_id}/{", "parse"),
])
def test_a_template_that_could_escape_or_overwrite_is_refused(template, refusal):
    with pytest.raises(ValueError, match=refusal.replace("{", r"\{").replace("}", r"\}")):
        check_template(template)


def test_the_default_template_and_literal_braces():
    values = {"contract_id": "T-12", "version_id": "7", "file_name": "NDA.pdf", "format": "pdf"}
    assert render(DEFAULT_TEMPLATE, values) == "T-12/7/NDA.pdf"
    assert render("{{x}}/{format}/{contract_id}-v{version_id}", values) == "{x}/pdf/T-12-v7"


@given(st.text(max_size=600))
def test_any_file_name_stays_one_segment_inside_the_base_path(name):
    path = render(DEFAULT_TEMPLATE, {"contract_id": "T-1", "version_id": "2", "file_name": name, "format": "pdf"})
    segments = path.split("/")
    assert segments[:2] == ["T-1", "2"] and len(segments) == 3
    assert segments[2] not in ("", ".", "..") and len(segments[2].encode()) <= MAX_SEGMENT_BYTES
    assert not any(ord(ch) < 32 or ch in "\\\x7f\u202e" for ch in segments[2])


def test_a_long_name_keeps_its_extension():
    path = render(DEFAULT_TEMPLATE, {"contract_id": "T-1", "version_id": "2", "file_name": "é" * 300 + ".pdf",
                                     "format": "pdf"})
    assert path.endswith(".pdf") and len(path.split("/")[2].encode()) <= MAX_SEGMENT_BYTES


@given(st.one_of(st.text(max_size=400), st.text(min_size=1, max_size=30).map(lambda part: part * 20)), st.sampled_from([
    "{contract_id}/{file_name} (version {version_id})", "{file_name}_{version_id}_{contract_id}",
    "{contract_id}-{file_name}-{version_id}", "{format}/{contract_id}/{file_name}.v{version_id}",
]))
def test_a_long_file_name_never_cuts_the_contract_or_the_version_out_of_its_path(name, template):
    """Each version of each contract keeps a path of its own, however long SpotDraft's file name: only the name
    is shortened to fit its segment, never the ids beside it."""
    paths = {render(template, {"contract_id": contract, "version_id": version, "file_name": name, "format": "pdf"})
             for contract in ("H-10004", "H-10005") for version in ("123456789", "123456790")}
    assert len(paths) == 4, paths
    assert all(len(segment.encode()) <= MAX_SEGMENT_BYTES for path in paths for segment in path.split("/"))


def test_a_long_japanese_file_name_keeps_the_version_id_and_the_extension():
    name = "業務委託契約書" * 20 + ".pdf"  # 424 bytes in UTF-8
    path = render("{contract_id}/{file_name} (version {version_id})",
                  {"contract_id": "T-1", "version_id": "31", "file_name": name, "format": "pdf"})
    assert path.startswith("T-1/業務委託契約書") and path.endswith(".pdf (version 31)")
    assert len(path.split("/")[1].encode()) <= MAX_SEGMENT_BYTES


def test_a_template_segment_too_long_for_any_file_name_is_refused():
    with pytest.raises(ValueError, match="longer than 200 bytes"):
        check_template("{contract_id}/" + "x" * 210 + "-{version_id}")


@pytest.mark.parametrize("template", ["{file_name}-{contract_id}-{version_id}", DEFAULT_TEMPLATE])
def test_a_file_name_starting_with_a_tilde_is_archived_not_refused(template):
    """Office's lock files are named ~$Name.docx: a value is never a home folder, the storage's base path comes first,
    so such a name is kept (its ~ made _) rather than refusing that contract's path on every run."""
    path = render(template, {"contract_id": "T-1", "version_id": "2", "file_name": "~$Lease.docx", "format": "docx"})
    assert "_$Lease.docx" in path and not path.startswith("~")
