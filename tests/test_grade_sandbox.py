"""Grading runs each submission in a bubblewrap sandbox; odd inputs (links, non-UTF-8 names, runtime errors)
each get their row.

The attacks are the ones a student tried with one extra cell: write outside its folder, read and delete a
classmate's notebook, read the master notebooks and the autograder archives, reach the network, write into
the installed package. Inside the sandbox each one raises (so the CSV's reason names it) and the victim keeps
every point.
"""
from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import pglab
from pglab.exercises.build import MASTER_DIR, STUDENT_DIR

FIXTURES = Path(__file__).parent / "fixtures" / "exercises"
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")


def _solutions():
    sys.path.insert(0, str(FIXTURES))
    try:
        from submissions import fill, master_solutions
    finally:
        sys.path.remove(str(FIXTURES))
    return fill, master_solutions(MASTER_DIR / "ch02_exercises.ipynb")


def _add_cells(path: Path, sources: list[str]) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells[3:3] = [nbformat.v4.new_code_cell(s) for s in sources]   # after the imports, before the answers
    nbformat.write(nb, path)


def _grade(class_dir: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pglab", "grade", str(class_dir), "--out", str(out),
                           "--timeout", "120", "--jobs", "2", *extra], capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@needs_bwrap
def test_sandbox_stops_a_submission_from_touching_anything_but_its_own_notebook(tmp_path):
    from pglab import sandbox
    assert sandbox.unavailable() is None, sandbox.unavailable()
    fill, answers = _solutions()
    class_dir = tmp_path / "class"
    victim = fill(STUDENT_DIR / "ch02_exercises.ipynb", answers, class_dir / "alice" / "ch02_exercises.ipynb")
    attacker = fill(STUDENT_DIR / "ch02_exercises.ipynb", answers, class_dir / "mallory" / "ch02_exercises.ipynb")
    outside = tmp_path / "outside.txt"
    in_package = Path(pglab.__file__).parent / f"pwned-{os.getpid()}.txt"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    attacks = {
        "write outside": f"open({str(outside)!r}, 'w').write('was here')",
        "read a classmate": f"print(open({str(victim)!r}).read()[:100])",
        "delete a classmate": f"import os; os.remove({str(victim)!r})",
        "read the masters": f"print(open({str(MASTER_DIR / 'ch02_exercises.ipynb')!r}).read()[:100])",
        "find the autograders": "import glob\nfound = glob.glob('/tmp/pglab-autograders-*/**/*.zip', recursive=True)\n"
                                "assert found, 'no autograder archive in sight'",
        "write into the package": f"open({str(in_package)!r}, 'w').write('was here')",
        "reach the network": f"import socket; socket.create_connection(('127.0.0.1', {listener.getsockname()[1]}), 5)",
    }
    _add_cells(attacker, list(attacks.values()))
    out = tmp_path / "grades.csv"
    try:
        proc = _grade(class_dir, out)
        assert proc.returncode == 0, proc.stderr[-2000:]
    finally:
        listener.close()
        in_package.unlink(missing_ok=True)
    assert proc.stdout.startswith("grading in a sandbox (bwrap)"), proc.stdout[:300]
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert rows["alice"]["total"] == rows["alice"]["max"] and float(rows["alice"]["max"]) >= 5 and rows["alice"]["isolated"] == "yes", rows["alice"]
    assert victim.exists() and not outside.exists()
    reason = rows["mallory"]["reason"]
    for i, (attack, _) in enumerate(attacks.items()):               # every attack cell raised, in its own cell
        assert f"cell {3 + i}: " in reason, (attack, reason)
    assert "Read-only file system" in reason and "no autograder archive in sight" in reason, reason
    assert rows["mallory"]["total"] == rows["mallory"]["max"]                         # the attacker's own answers still count


@pytest.mark.slow
def test_without_the_sandbox_the_run_and_the_csv_say_so(tmp_path):
    fill, answers = _solutions()
    class_dir = tmp_path / "class"
    fill(STUDENT_DIR / "ch02_exercises.ipynb", answers, class_dir / "alice" / "ch02_exercises.ipynb")
    out = tmp_path / "grades.csv"
    proc = _grade(class_dir, out, "--no-sandbox")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("WARNING: grading is NOT isolated (--no-sandbox was given)"), proc.stdout[:300]
    row = next(csv.DictReader(out.open()))
    assert row["isolated"] == "no" and row["total"] == row["max"], row


def test_a_missing_bwrap_is_reported_not_hidden(monkeypatch):
    from pglab import sandbox
    sandbox.unavailable.cache_clear()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    try:
        assert "bubblewrap" in sandbox.unavailable()
    finally:
        sandbox.unavailable.cache_clear()


@pytest.mark.slow
def test_links_odd_names_and_runtime_errors_each_get_their_row(tmp_path):
    """A linked file or folder is refused (its target never read), a non-UTF-8 folder name gets its row, and a
    cell that raises is named with its exception."""
    fill, answers = _solutions()
    class_dir = tmp_path / "class"
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE\n")
    (class_dir / "eve").mkdir(parents=True)
    (class_dir / "eve" / "ch02_exercises.ipynb").symlink_to(secret)
    elsewhere = fill(STUDENT_DIR / "ch02_exercises.ipynb", answers, tmp_path / "elsewhere" / "ch02_exercises.ipynb")
    (class_dir / "linked").symlink_to(elsewhere.parent, target_is_directory=True)
    odd = Path(os.fsdecode(bytes(class_dir) + b"/jos\xe9"))                 # Latin-1 "josé": not UTF-8
    fill(STUDENT_DIR / "ch02_exercises.ipynb", answers, odd / "ch02_exercises.ipynb")
    broken = fill(STUDENT_DIR / "ch02_exercises.ipynb", answers, class_dir / "ivan" / "ch02_exercises.ipynb")
    _add_cells(broken, ["import not_a_module_pglab_knows", "1 / 0"])
    out = tmp_path / "grades.csv"
    proc = _grade(class_dir, out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    assert "TOP-SECRET" not in text and "TOP-SECRET" not in proc.stdout
    rows = {r["student"]: r for r in csv.DictReader(text.splitlines())}
    assert rows.keys() == {"eve", "linked", "jos\\xe9", "ivan"}, rows.keys()
    assert rows["eve"]["status"] == "error" and "eve/ch02_exercises.ipynb is a symbolic link" in rows["eve"]["reason"]
    assert rows["linked"]["status"] == "error" and "linked is a symbolic link" in rows["linked"]["reason"]
    assert rows["jos\\xe9"]["status"] == "ok" and rows["jos\\xe9"]["total"] == rows["jos\\xe9"]["max"]
    reason = rows["ivan"]["reason"]
    assert "cell 3: ModuleNotFoundError: No module named 'not_a_module_pglab_knows'" in reason, reason
    assert "cell 4: ZeroDivisionError: division by zero" in reason, reason
    assert rows["ivan"]["total"] == rows["ivan"]["max"]


@pytest.mark.slow
def test_the_command_fails_when_no_submission_could_be_graded(tmp_path):
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    (class_dir / "a.ipynb").write_text("not json")
    (class_dir / "b.ipynb").write_text("{}")
    out = tmp_path / "grades.csv"
    proc = _grade(class_dir, out)
    assert proc.returncode == 1 and "no submission could be graded" in proc.stderr, (proc.returncode, proc.stderr)
    assert len(list(csv.DictReader(out.open()))) == 2                # the CSV is still written, complete
