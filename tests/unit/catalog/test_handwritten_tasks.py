"""The generator and the hand-written tasks: a broken, aliased or misplaced hand-written task, or a spec
that lost its operation, stops the generator before it writes anything, naming the file and line.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import pytest

from tests.support.paths import ROOT


# ------------------------------------------------------------------------------ generator: hand-written
@pytest.fixture(scope="module")
def generator():
    from tests.support.paths import require_spec
    from tools import generate_catalog

    spec = generate_catalog.load_spec(require_spec())
    return generate_catalog, spec


def handwritten_dir(tmp_path: Path, source: str, family: str = "templates") -> Path:
    directory = tmp_path / "_handwritten"
    directory.mkdir()
    (directory / f"{family}.py").write_text(textwrap.dedent(source))
    return directory


def test_a_hand_written_module_with_a_syntax_error_stops_the_generator_naming_file_and_line(tmp_path, generator):
    gen, _spec = generator
    directory = handwritten_dir(tmp_path, """
        from tasks._base import spotdraft_task

        @spotdraft_task("list_templates")
        def list_templates(credentials:
    """)
    with pytest.raises(SyntaxError) as raised:
        gen.read_handwritten(directory)
    assert raised.value.filename.endswith("_handwritten/templates.py") and raised.value.lineno == 5


def test_a_hand_written_task_under_an_aliased_decorator_is_seen_or_refused(tmp_path, generator):
    gen, _spec = generator
    directory = handwritten_dir(tmp_path, """
        from tasks._base import spotdraft_task as operation_task

        @operation_task("list_templates")
        def list_templates(credentials):
            ...
    """)
    try:
        found = gen.read_handwritten(directory)
    except SystemExit:
        return  # refusing it is as good as seeing it
    assert "list_templates" in found


def test_a_hand_written_task_in_another_familys_module_stops_the_generator(tmp_path, generator):
    gen, spec = generator
    directory = handwritten_dir(tmp_path, """
        from tasks._base import spotdraft_task

        @spotdraft_task("list_counterparties")
        def list_counterparties(credentials):
            ...
    """)
    ops, _models = gen.build(spec)
    with pytest.raises(SystemExit, match=r"templates.py:5: hand-written task 'list_counterparties' belongs in "
                                         r"tasks/_handwritten/counterparties.py"):
        gen.check_handwritten(ops, gen.read_handwritten(directory))


def test_a_spec_without_an_operation_that_has_a_hand_written_task_stops_before_writing(generator):
    gen, spec = generator
    smaller = copy.deepcopy(spec)
    del smaller["paths"]["/api/v2.1/public/templates/"]["get"]
    before = (ROOT / "tasks" / "templates.py").read_text()
    with pytest.raises(SystemExit, match=r"NAMES lists operations the spec no longer has: .*templates_list"):
        gen.render(smaller)
    assert (ROOT / "tasks" / "templates.py").read_text() == before
