"""The exercise notebooks: the student notebooks are built from the masters and hold no solution; every one runs
top to bottom with every answer empty (each check cell says *not yet implemented*) and with the master's solutions
pasted in (each check cell says it passed); and what a student sees in a renamed notebook.

The notebook runs share one kernel (tests/exercise_fixtures.py, ``SharedKernel``): starting a kernel and
importing torch, pglab and otter cost more than a notebook's own cells. Grading itself, where each submission gets
a fresh kernel in a sandbox, is tested in tests/test_grade.py.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from pglab.exercises import EXERCISES, check
from pglab.exercises.build import MASTER_DIR, STUDENT_DIR, build, masters
from tests.exercise_fixtures import FUNCTIONS, SharedKernel, check_cell_outputs, errors_of, submissions

STUDENTS = sorted(STUDENT_DIR.glob("ch*_exercises.ipynb"))


# ---------------------------------------------------------------------------------------------------------------
# built from the masters, no solutions

def _sources(nb):
    return [(c.cell_type, c.source) for c in nb.cells]


def _solution_lines(master: Path) -> list[str]:
    lines, inside = [], False
    for cell in nbformat.read(master, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            s = line.strip()
            if s.startswith("# BEGIN SOLUTION"):
                inside = True
            elif s.startswith("# END SOLUTION"):
                inside = False
            elif inside or s.endswith("# SOLUTION"):
                s = s.replace("# SOLUTION", "").strip()
                if len(s) >= 12 and not s.startswith("#"):
                    lines.append(s)
    return lines


def test_every_master_has_a_committed_student_notebook():
    names = [m.name for m in masters()]
    assert names == [p.name for p in STUDENTS]
    assert len(names) >= 3


@pytest.mark.parametrize("master", masters(), ids=lambda p: p.stem)
def test_student_notebook_has_no_solution(master):
    student = STUDENT_DIR / master.name
    text = "\n".join(c.source for c in nbformat.read(student, as_version=4).cells)
    assert "BEGIN SOLUTION" not in text and "# SOLUTION" not in text and "BEGIN QUESTION" not in text
    solution = _solution_lines(master)
    assert solution, f"{master.name} has no solution lines to look for"
    leaked = [s for s in solution if s in text]
    assert not leaked, f"solution lines in the student notebook: {leaked}"
    assert "grader.check(" in text


@pytest.mark.slow
def test_student_notebooks_are_up_to_date_with_the_masters(tmp_path):
    for fresh in build(MASTER_DIR, tmp_path):
        committed = nbformat.read(STUDENT_DIR / fresh.name, as_version=4)
        regenerated = nbformat.read(fresh, as_version=4)
        assert _sources(committed) == _sources(regenerated), \
            f"{fresh.name} is stale: run python -m pglab.exercises.build"
        assert committed.metadata["otter"]["tests"] == regenerated.metadata["otter"]["tests"]


def test_exercise_notebooks_are_committed_without_outputs():
    for path in sorted(MASTER_DIR.glob("*.ipynb")) + sorted(STUDENT_DIR.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        dirty = [i for i, c in enumerate(nb.cells) if c.get("outputs") or c.get("execution_count")]
        assert not dirty, f"{path.name}: cells {dirty} have outputs"


@pytest.mark.parametrize("student", STUDENTS, ids=lambda p: p.stem)
def test_student_stubs_state_the_signature_the_check_calls(student):
    """The `def` a student finds is the exercise's signature: same names, same order as the positional call."""
    text = "\n".join(c.source for c in nbformat.read(student, as_version=4).cells if c.cell_type == "code")
    for ex in FUNCTIONS:
        if ex.chapter == int(student.name[2:4]):
            assert re.search(rf"^def {re.escape(ex.signature)}:", text, re.M), ex.signature


def test_student_notebooks_start_with_pglabs_otter_init_cell():
    for student in STUDENTS:
        first = nbformat.read(student, as_version=4).cells[0].source
        assert f'grader = otter_notebook("{student.name}")' in first and f"keep the file name {student.name}" in first


def test_a_missing_notebook_says_to_keep_the_file_name(tmp_path, monkeypatch):
    from pglab.exercises import otter_notebook
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="keep the file name ch02_exercises.ipynb") as info:
        otter_notebook("ch02_exercises.ipynb")
    assert "found no notebook of ch02_exercises" in str(info.value)
    for copy in ("a.ipynb", "b.ipynb"):
        shutil.copy(STUDENT_DIR / "ch02_exercises.ipynb", tmp_path / copy)
    with pytest.raises(FileNotFoundError, match="found several copies .*: a.ipynb, b.ipynb"):
        otter_notebook("ch02_exercises.ipynb")
    (tmp_path / "b.ipynb").unlink()
    (tmp_path / "other.ipynb").write_text("{not json")
    grader = otter_notebook("ch02_exercises.ipynb")                 # the one renamed copy is found
    assert grader._notebook == "a.ipynb"


# ---------------------------------------------------------------------------------------------------------------
# executed: empty, with the master's solutions, and as a student would (one shared kernel, see the module doc)

@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    with SharedKernel(tmp_path_factory.mktemp("kernel")) as k:
        yield k


def _run(kernel, nb, folder: Path, name: str):
    """Write ``nb`` into its own ``folder`` as ``name`` (the checks are read from the file) and execute it there."""
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return kernel.run(nb, folder)


@pytest.mark.slow
@pytest.mark.parametrize("student", STUDENTS, ids=lambda p: p.stem)
def test_empty_student_notebook_runs_and_says_not_yet_implemented(student, kernel, tmp_path):
    nb = _run(kernel, nbformat.read(student, as_version=4), tmp_path, student.name)
    assert not errors_of(nb)
    shown = check_cell_outputs(nb)
    assert shown and set(shown) == {n for n, e in EXERCISES.items() if e.chapter == int(student.name[2:4])}
    for name, text in shown.items():
        assert "not yet implemented" in text, f"{name}: {text[:500]}"


@pytest.mark.slow
@pytest.mark.parametrize("student", STUDENTS, ids=lambda p: p.stem)
def test_the_masters_solutions_pasted_into_the_student_notebook_pass_every_check_cell(student, kernel, tmp_path):
    """As a student who wrote exactly the master's solutions: the notebook runs, and each check cell says so."""
    subs = submissions()
    filled = subs.fill(student, subs.master_solutions(MASTER_DIR / student.name), tmp_path / "src" / student.name)
    nb = _run(kernel, nbformat.read(filled, as_version=4), tmp_path / "run", student.name)
    assert not errors_of(nb)
    shown = check_cell_outputs(nb)
    assert shown and set(shown) == {n for n, e in EXERCISES.items() if e.chapter == int(student.name[2:4])}
    for name, text in shown.items():
        assert "passed" in text and "❌" not in text and "not yet implemented" not in text, f"{name}: {text[:500]}"


@pytest.mark.slow
def test_a_student_sees_the_feedback_first_in_a_renamed_notebook(kernel, tmp_path):
    """Execute a student notebook as a student would (renamed, a correct answer with other parameter names, a
    known wrong answer, a wrong letter) and read what the check cells display."""
    nb = nbformat.read(STUDENT_DIR / "ch02_exercises.ipynb", as_version=4)
    answers = {"def bandit_gradient": "def bandit_gradient(th, a, r, /):\n"
                                      "    from pglab.exercises.ch02 import bandit_gradient as ref\n"
                                      "    return ref(th, a, r)",
               "def reward_to_go": "def reward_to_go(rewards, mask, gamma):\n"
                                   "    return (rewards * mask).sum(1, keepdim=True).expand_as(rewards) * mask",
               "predict_sparse": 'predict_sparse = "A"'}
    for cell in nb.cells:
        for start, source in answers.items():
            if cell.cell_type == "code" and cell.source.startswith(start):
                cell.source = source
    nb = _run(kernel, nb, tmp_path, "ch02_exercises (1).ipynb")     # the browser's name for a second download
    assert not errors_of(nb), errors_of(nb)
    shown = check_cell_outputs(nb)
    assert "passed" in shown["ch02_bandit_score"] and "❌" not in shown["ch02_bandit_score"]
    rtg, ns = shown["ch02_reward_to_go"], {}
    exec(answers["def reward_to_go"], ns)
    expected = check("ch02_reward_to_go", ns["reward_to_go"])
    assert expected.hint_key is not None and expected.hint[:60] in rtg
    assert re.search(r"❌ Test case failed\n\s*❌ ch02_reward_to_go: wrong answer on input", rtg), rtg
    choice = shown["ch02_predict_sparse"]
    assert "❌ ch02_predict_sparse: wrong answer\n" in choice and "on input" not in choice
    for text in shown.values():
        assert "Error at line" not in text and "require(" not in text and "Feedback:" not in text


def test_a_notebook_that_uses_a_name_it_never_defined_fails_in_the_shared_kernel(kernel, tmp_path):
    """The shared kernel forgets the previous notebook's names: a notebook relying on them raises NameError."""
    first = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import math\nleft_over = 1")])
    second = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(math.pi, left_over)")])
    assert not errors_of(_run(kernel, first, tmp_path / "a", "a.ipynb"))
    assert [e[1] for e in errors_of(_run(kernel, second, tmp_path / "b", "b.ipynb"))] == ["NameError"]
