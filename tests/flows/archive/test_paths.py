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
