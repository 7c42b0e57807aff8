"""The generator and the hand-written tasks: a broken, aliased or misplaced hand-written task, or a spec
that lost its operation, stops the generator before it writes anything, naming the file and line; the
hand-written tasks it finds are exactly those importing `tasks` gets, and are not generated again.
"""

from __future__ import annotations

import copy
import re
import textwrap
from pathlib import Path

import pytest

import tasks
from tests.support.generator_tree import clean_tree, git, run_generator
from tests.support.paths import ROOT, require_spec
from tools import generate_catalog


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


# ------------------------------------------------------------------------------ generator: found, placed, read strictly
@pytest.mark.parametrize(
    ("module", "operation", "says"),
    [
        ("contracts", "archive_contract", "an operation the catalog does not have"),
        ("integrations", "get_contract_notes", "belongs in tasks/_handwritten/notes.py"),
    ],
)
def test_a_misplaced_hand_written_task_stops_the_generator_with_its_name(tmp_path, module, operation, says):
    require_spec()
    tree = clean_tree(tmp_path)
    path = tree / "tasks" / "_handwritten" / f"{module}.py"
    source = path.read_text(encoding="utf-8")
    task = f'@spotdraft_task("{operation}")\ndef {operation}(credentials: SpotDraftCredentials) -> None:\n    """x"""\n'
    path.write_text(f"{source}\n\n{task}", encoding="utf-8")
    line = source.count("\n") + 4  # the def line, after two blank lines and the decorator
    done = run_generator(tree, "--check")
    assert done.returncode == 1 and done.stdout == "", done.stdout
    assert f"tasks/_handwritten/{module}.py:{line}: hand-written task {operation!r}" in done.stderr, done.stderr
    assert says in done.stderr, done.stderr
    assert git(tree, "status", "--porcelain") == f" M tasks/_handwritten/{module}.py\n"  # nothing was written


def test_hand_written_tasks_are_found_and_not_generated_again():
    """What the generator reads from tasks/_handwritten is exactly what importing `tasks` gets from there."""
    found = generate_catalog.read_handwritten()
    imported = {n: getattr(tasks, n).fn.__module__ for n in tasks.__all__
                if getattr(tasks, n).fn.__module__.startswith("tasks._handwritten.")}
    assert {"create_contract", "list_contracts", "queue_native_integration_contracts"} <= set(found)
    assert {n: f"tasks._handwritten.{w.family}" for n, w in found.items()} == imported
    for name, written in found.items():
        generated = (ROOT / "tasks" / f"{written.family}.py").read_text(encoding="utf-8")
        assert f"def {name}(" not in generated, f"{name} is generated as well as written by hand"


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({"contracts.py": '@spotdraft_task("list_contracts")\ndef contracts(credentials): ...\n'},
         "contracts.py:2: hand-written task 'contracts' is decorated for 'list_contracts'"),
        ({"contracts.py": '@spotdraft_task(NAME)\ndef list_contracts(credentials): ...\n'},
         "one string literal"),
        ({"misc.py": '@spotdraft_task("list_contracts")\ndef list_contracts(credentials): ...\n'},
         "misc.py: hand-written tasks go in a module named after their family"),
        ({"contracts.py": '@spotdraft_task("list_contracts")\ndef list_contracts(credentials): ...\n',
          "counterparties.py": '@_base.spotdraft_task("list_contracts")\ndef list_contracts(credentials): ...\n'},
         "already written by hand at"),
    ],
)
def test_hand_written_modules_are_read_strictly(tmp_path, files, says):
    for name, source in files.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    with pytest.raises(SystemExit, match=re.escape(says)):
        generate_catalog.read_handwritten(tmp_path)
