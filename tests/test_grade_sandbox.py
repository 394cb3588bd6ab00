"""Grading's limits: a submission that never ends is killed at ``--timeout`` with every process it started, in the
sandbox and without it; a run that grades nothing exits 1 (its CSV still complete); a run without the sandbox says
so, in its first line and in the CSV. (The class graded in the sandbox, attacks included: tests/test_grade.py.)"""
from __future__ import annotations

import csv
import os
import shutil
import threading
import time
from pathlib import Path

import nbformat
import pytest

from pglab.exercises.build import MASTER_DIR, STUDENT_DIR
from tests.exercise_fixtures import submissions
from tests.test_grade import grade, processes_with

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")

NEVER_ENDS = ("import subprocess, time\n"
              "helper = subprocess.Popen(['sleep', '4242'])    # a child process, as a student's cell may start\n"
              "while True:                                      # and a loop that never ends\n"
              "    time.sleep(0.2)\n")


def _watch(marker: str, seen: list[str], stop: threading.Event) -> None:
    """Record the command lines of the processes that carry ``marker`` while the grading runs."""
    while not stop.is_set():
        for pid in processes_with(marker):
            try:
                seen.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
        time.sleep(0.2)


def _endless_class(class_dir: Path) -> None:
    """aaron's chapter 02 notebook with the endless cell right after otter's first cell; two unreadable files."""
    nb = nbformat.read(STUDENT_DIR / "ch02_exercises.ipynb", as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(NEVER_ENDS))
    (class_dir / "aaron").mkdir(parents=True)
    nbformat.write(nb, class_dir / "aaron" / "ch02_exercises.ipynb")
    (class_dir / "a.ipynb").write_text("not json")
    (class_dir / "b.ipynb").write_text("{}")


def _grade_until_the_endless_cell_runs(class_dir: Path, out: Path, *extra: str, others_ok: tuple[str, ...] = ()):
    """Grade with --timeout 25; again with a longer one only if the machine was too busy for the kernel to reach
    the endless cell in time (seen from outside: its child ``sleep 4242`` exists) or for ``others_ok`` to finish,
    so that the kill always hits a running kernel, whatever the load. Return (process, rows, timeout, marker)."""
    for timeout in (25, 75, 225):
        marker, seen, stop = f"pglab-timeout-test-{os.getpid()}-{out.parent.name}-{timeout}", [], threading.Event()
        watcher = threading.Thread(target=_watch, args=(marker, seen, stop), daemon=True)
        watcher.start()
        try:
            proc = grade(class_dir, out, "--timeout", str(timeout), "--jobs", "2", *extra, marker=marker)
        finally:
            stop.set()
            watcher.join()
        rows = {r["student"]: r for r in csv.DictReader(out.open())} if out.exists() else {}
        if any("sleep 4242" in cmd for cmd in seen) and all(rows.get(s, {}).get("status") == "ok" for s in others_ok):
            print(f"the endless cell was running when --timeout {timeout} killed it")
            time.sleep(1)                             # a process left behind would outlive the command by far
            return proc, rows, timeout, marker
    pytest.fail(f"the endless cell never started (or the others never finished), even with --timeout {timeout}")


@pytest.mark.slow
@needs_bwrap
def test_an_endless_cell_is_killed_at_the_timeout_with_every_process_it_started(tmp_path):
    """The cell starts a child and never ends; the other two rows cannot be read: nothing was graded (exit 1)."""
    _endless_class(tmp_path / "class")
    proc, rows, timeout, marker = _grade_until_the_endless_cell_runs(tmp_path / "class", tmp_path / "grades.csv")
    assert not processes_with(marker), "grading left processes behind (the endless cell's kernel or its child)"
    assert proc.stdout.startswith("grading in a sandbox (bwrap)"), proc.stdout[:300]
    assert proc.returncode == 1 and "no submission could be graded" in proc.stderr, (proc.returncode, proc.stderr)
    assert rows.keys() == {"aaron", "a", "b"}                              # the CSV is still written, complete
    aaron = rows["aaron"]
    assert aaron["status"] == "timeout" and f"killed after {timeout} s" in aaron["reason"], aaron
    assert float(aaron["total"]) == 0 and float(aaron["max"]) == 6 and aaron["isolated"] == "yes"
    assert {rows["a"]["status"], rows["b"]["status"]} == {"error"}


@pytest.mark.slow
def test_without_the_sandbox_the_run_and_the_csv_say_so_and_the_endless_cell_is_still_killed(tmp_path):
    """Without the sandbox the kernel runs in a session of its own: killing the submission's process group alone
    left the endless cell's child running. alice, graded beside it, gets every point."""
    subs = submissions()
    solved = subs.master_solutions(MASTER_DIR / "ch02_exercises.ipynb")
    _endless_class(tmp_path / "class")
    subs.fill(STUDENT_DIR / "ch02_exercises.ipynb", solved, tmp_path / "class" / "alice" / "ch02_exercises.ipynb")
    proc, rows, timeout, marker = _grade_until_the_endless_cell_runs(tmp_path / "class", tmp_path / "grades.csv",
                                                                     "--no-sandbox", others_ok=("alice",))
    assert not processes_with(marker), "grading left processes behind (the endless cell's kernel or its child)"
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("WARNING: grading is NOT isolated (--no-sandbox was given)"), proc.stdout[:300]
    assert {r["isolated"] for r in rows.values()} == {"no"} and rows.keys() == {"aaron", "alice", "a", "b"}
    assert rows["alice"]["status"] == "ok" and rows["alice"]["total"] == rows["alice"]["max"], rows["alice"]
    assert rows["aaron"]["status"] == "timeout" and f"killed after {timeout} s" in rows["aaron"]["reason"]


def test_a_missing_bwrap_is_reported_not_hidden(monkeypatch):
    from pglab import sandbox
    sandbox.unavailable.cache_clear()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    try:
        assert "bubblewrap" in sandbox.unavailable()
    finally:
        sandbox.unavailable.cache_clear()


def test_the_process_that_drives_otter_imports_neither_pglab_nor_torch():
    """pglab/sandbox.py runs as a script (``python -P``), not ``-m pglab.sandbox``, which would import the pglab
    package and torch (about 2 s of CPU per submission) in a process that only drives otter."""
    import subprocess
    import sys

    from pglab import sandbox
    inner = sandbox.inner_command("n.ipynb", "a.zip", "out")
    assert inner[:3] == [sys.executable, "-P", str(Path(sandbox.__file__).resolve())], inner
    code = (f"import runpy, sys; runpy.run_path({inner[2]!r}); "
            "print(sorted(m for m in ('pglab', 'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode == 0 and done.stdout.strip() == "[]", (done.stdout, done.stderr[-500:])
