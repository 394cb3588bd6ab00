"""``python -m pglab grade`` on one class that holds every kind of submission, graded once, in the sandbox.

The class (built by ``graded`` below, one fresh kernel per notebook, ``--jobs 2``):

* ``alice`` — chapter 02 with the master's solutions: every point, an empty reason; the attacker's victim;
* ``mallory`` — chapter 02 with one right answer, one known wrong answer (G_0 for every t) and a wrong letter, and
  seven attack cells (write outside, read and delete alice's notebook, read the masters, find the other autograders,
  write into the package, reach the network): inside the sandbox each one raises, so the reason names its cell, and
  her own answers still score what they are worth;
* ``jos\\xe9`` (a folder name that is not UTF-8) — chapter 02 solved, with a cell importing a module that does not
  exist and a cell dividing by zero: graded, each raised cell named;
* ``carol`` — chapter 01 handed in empty: ok, 0 points; ``dave`` — chapter 03 with a syntax error: error, 0 points;
* ``frank.ipynb`` — an empty file; ``eve`` — a link to a secret file; ``linked`` — a link to a folder: refused rows.

Each test below reads the same run's CSV and output. The endless loop (``--timeout``) and ``--no-sandbox`` have their
own, cheaper runs in tests/test_grade_sandbox.py; otter's test files against every master in
tests/test_exercises_references.py.
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
from tests.exercise_fixtures import load_fixture, submissions

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
ODD = "jos\\xe9"                                              # how the CSV writes the Latin-1 folder name b"jos\xe9"


def add_cells(path: Path, sources: list[str], at: int = 3) -> None:
    """Insert code cells into a notebook (at 3: after the imports, before the answers)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells[at:at] = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (Linux /proc; same user)."""
    found = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in env.read_bytes():
                found.append(int(env.parent.name))
        except OSError:
            continue
    return found


def grade(class_dir: Path, out: Path, *extra: str, marker: str = "") -> subprocess.CompletedProcess:
    """Run the command as a teacher would; ``marker`` goes into the environment of every process it starts."""
    return subprocess.run([sys.executable, "-m", "pglab", "grade", str(class_dir), "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=1500,
                          env={**os.environ, "PGLAB_GRADE_TEST_MARKER": marker or "none"})


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Build the class of the module doc, grade it once; return what every test reads."""
    root = tmp_path_factory.mktemp("grading")
    subs, wrong_ch02 = submissions(), load_fixture("wrong_ch02")
    ch02 = STUDENT_DIR / "ch02_exercises.ipynb"
    solved = subs.master_solutions(MASTER_DIR / "ch02_exercises.ipynb")
    class_dir = root / "class"
    victim = subs.fill(ch02, solved, class_dir / "alice" / ch02.name)
    g0 = next(fn for ex, hint, fn in wrong_ch02.WRONG if hint == "total_return")
    partly = {"bandit_gradient": solved["bandit_gradient"], "reward_to_go": subs.student_source(g0, "reward_to_go"),
              "predict_sparse": 'predict_sparse = "A"'}                 # right, wrong, wrong letter
    attacker = subs.fill(ch02, partly, class_dir / "mallory" / ch02.name)
    outside, in_package = root / "outside.txt", Path(pglab.__file__).parent / f"pwned-{os.getpid()}.txt"
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
    add_cells(attacker, list(attacks.values()))
    odd = Path(os.fsdecode(bytes(class_dir) + b"/jos\xe9"))                  # Latin-1 "josé": not UTF-8
    add_cells(subs.fill(ch02, solved, odd / ch02.name), ["import not_a_module_pglab_knows", "1 / 0"])
    subs.fill(STUDENT_DIR / "ch01_exercises.ipynb", {}, class_dir / "carol" / "ch01_exercises.ipynb")
    subs.fill(STUDENT_DIR / "ch03_exercises.ipynb",
              {"reinforce_loss": "def reinforce_loss(logprobs, advantages, mask):\n"
                                 "    return -(advantages.detach() * logprobs * mask).sum(1).mean(\n"},
              class_dir / "dave" / "ch03_exercises.ipynb")
    (class_dir / "frank.ipynb").write_text("")                                  # an empty file
    secret = root / "secret.txt"
    secret.write_text("TOP-SECRET-LINE\n")
    (class_dir / "eve").mkdir()
    (class_dir / "eve" / ch02.name).symlink_to(secret)
    elsewhere = subs.fill(ch02, solved, root / "elsewhere" / ch02.name)
    (class_dir / "linked").symlink_to(elsewhere.parent, target_is_directory=True)
    out, marker = root / "grades.csv", f"pglab-grade-test-{os.getpid()}-{root.name}"
    try:
        proc = grade(class_dir, out, "--timeout", "600", "--jobs", "2", marker=marker)
    finally:
        listener.close()
        in_package.unlink(missing_ok=True)
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    rows = list(csv.DictReader(text.splitlines()))
    return dict(proc=proc, text=text, rows=rows, by={r["student"]: r for r in rows}, attacks=attacks,
                victim=victim, outside=outside, in_package=in_package, left=processes_with(marker))


def test_the_command_succeeds_and_leaves_no_process_behind(graded):
    proc = graded["proc"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not graded["left"], "grading left processes behind"
    assert len(proc.stdout.splitlines()) == 1 + 8 + 1 and f"({len(graded['rows'])} submissions)" in proc.stdout


def test_one_row_per_submission_and_a_column_per_question_in_notebook_order(graded):
    rows = graded["rows"]
    header = list(rows[0])
    assert header[:5] == ["student", "assignment", "status", "reason", "isolated"] and header[-2:] == ["total", "max"]
    assert header[5:-2] == ["ch01_completion_logprob", "ch01_sentence_bleu", "ch01_expected_return",
                            "ch01_predict_length", "ch02_bandit_score", "ch02_reward_to_go", "ch02_predict_sparse",
                            "ch02_proof_false_step",
                            "ch03_reinforce_loss", "ch03_reinforce_from_logits", "ch03_predict_token_mean"]
    assert [(r["student"], r["assignment"]) for r in rows] == [
        ("alice", "ch02_exercises"), ("carol", "ch01_exercises"), ("dave", "ch03_exercises"), ("frank", ""),
        (ODD, "ch02_exercises"), ("mallory", "ch02_exercises"), ("eve", ""), ("linked", "")]


def test_the_masters_solutions_get_every_point(graded):
    alice = graded["by"]["alice"]
    assert alice["status"] == "ok" and alice["reason"] == "" and alice["total"] == alice["max"] == "6", alice
    assert [alice[q] for q in ("ch02_bandit_score", "ch02_reward_to_go", "ch02_predict_sparse")] == ["2", "2", "1"]
    assert alice["ch01_completion_logprob"] == ""              # not this student's assignment


def test_a_known_wrong_answer_and_a_wrong_letter_cost_their_points(graded):
    mallory = graded["by"]["mallory"]                            # right, G_0 for every t, wrong letter
    assert mallory["status"] == "ok"
    assert float(mallory["ch02_bandit_score"]) == 2 and float(mallory["ch02_reward_to_go"]) == 0
    assert float(mallory["ch02_predict_sparse"]) == 0 and float(mallory["total"]) == 2 and float(mallory["max"]) == 6


def test_empty_syntax_error_and_not_a_notebook(graded):
    by = graded["by"]
    carol = by["carol"]                                          # empty: graded, 0
    assert carol["status"] == "ok" and carol["reason"] == "" and float(carol["total"]) == 0
    assert float(carol["max"]) == 7
    dave = by["dave"]                                            # a syntax error: 0, with the reason
    assert dave["status"] == "error" and "SyntaxError in cell" in dave["reason"] and float(dave["total"]) == 0
    assert by["frank"]["status"] == "error" and "not a readable notebook" in by["frank"]["reason"]


def test_links_are_refused_and_never_read(graded):
    by = graded["by"]
    assert "TOP-SECRET" not in graded["text"] and "TOP-SECRET" not in graded["proc"].stdout
    assert by["eve"]["status"] == "error" and "eve/ch02_exercises.ipynb is a symbolic link" in by["eve"]["reason"]
    assert by["linked"]["status"] == "error" and "linked is a symbolic link" in by["linked"]["reason"]


def test_an_odd_folder_name_gets_its_row_and_each_raised_cell_is_named(graded):
    row = graded["by"][ODD]
    assert row["status"] == "ok" and row["total"] == row["max"], row
    assert "cell 3: ModuleNotFoundError: No module named 'not_a_module_pglab_knows'" in row["reason"], row["reason"]
    assert "cell 4: ZeroDivisionError: division by zero" in row["reason"], row["reason"]


@needs_bwrap
def test_the_sandbox_stops_every_attack_and_the_victim_keeps_every_point(graded):
    assert graded["proc"].stdout.startswith("grading in a sandbox (bwrap)"), graded["proc"].stdout[:300]
    assert {r["isolated"] for r in graded["rows"]} == {"yes"}
    assert graded["victim"].exists() and not graded["outside"].exists() and not graded["in_package"].exists()
    assert graded["by"]["alice"]["total"] == graded["by"]["alice"]["max"]
    reason = graded["by"]["mallory"]["reason"]
    for i, attack in enumerate(graded["attacks"]):               # every attack cell raised, in its own cell
        assert f"cell {3 + i}: " in reason, (attack, reason)
    assert "Read-only file system" in reason and "no autograder archive in sight" in reason, reason


def test_grading_points_at_a_notebook_that_touches_the_checks():
    """The checks run in the student's kernel and can be overridden (a known limit of local grading): the CSV's
    reason says which cell to look at; the handed-out notebooks and the masters' solutions are not flagged."""
    from pglab.grade import review_notes
    for path in sorted(STUDENT_DIR.glob("ch*_exercises.ipynb")) + sorted(MASTER_DIR.glob("ch*_exercises.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nb.cells = [c for c in nb.cells if "TEST CONFIG" not in c.source]           # a master's test cells
        assert review_notes(nb) == [], path.name
    nb = nbformat.read(STUDENT_DIR / "ch02_exercises.ipynb", as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell("import pglab.exercises as e\ne.require = lambda *a, **k: None"))
    nb.cells.insert(4, nbformat.v4.new_code_cell("import sys\nsys.modules['pglab.exercises.core'].check = print"))
    assert review_notes(nb) == ["review: cell 3 mentions exercises, require",
                                "review: cell 4 mentions exercises, sys.modules"]


def test_grade_refuses_bad_arguments(tmp_path, capsys):
    from pglab.cli import main

    def run(*args):
        with pytest.raises(SystemExit) as info:
            main(["grade", *args])
        return info.value.code, capsys.readouterr().err
    (tmp_path / "a.ipynb").write_text("")
    empty = tmp_path / "empty"
    empty.mkdir()
    out = str(tmp_path / "g.csv")
    for args, message in [((str(tmp_path / "missing"), "--out", out), "must be a directory"),
                          ((str(tmp_path), "--out", out, "--timeout", "0"), "--timeout must be a positive"),
                          ((str(tmp_path), "--out", out, "--timeout", "nan"), "--timeout must be a positive"),
                          ((str(tmp_path), "--out", out, "--jobs", "0"), "--jobs must be an integer >= 1"),
                          ((str(tmp_path), "--out", str(tmp_path)), "is a directory"),
                          ((str(tmp_path), "--out", str(tmp_path / "no" / "g.csv")), "does not exist"),
                          ((str(empty), "--out", out), "no notebooks")]:
        code, err = run(*args)
        assert code == 2 and message in err, (args, err[-500:])
    assert not (tmp_path / "g.csv").exists()
