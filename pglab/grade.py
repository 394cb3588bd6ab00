"""``python -m pglab grade`` — grade a class's exercise notebooks locally, into one CSV.

    python -m pglab grade SUBMISSIONS_DIR --out grades.csv [--timeout 300] [--jobs 2]

Every ``*.ipynb`` under ``SUBMISSIONS_DIR`` is one submission: ``alice/ch02_exercises.ipynb`` belongs to
student ``alice`` (the first folder), a notebook directly in the directory to its file name
(``alice.ipynb`` → ``alice``). Which exercise set it answers is read from the notebook itself (otter's
``assignment_name``), so renamed files are fine.

The autograders are built from the master notebooks (``exercises/master``) with ``otter assign``, then
each submission is graded by ``otter run`` — no Docker, no network — in its own process group, killed
after ``--timeout`` seconds (a loop that never ends costs one timeout, not the class). The CSV has one
row per submission: ``student, assignment, status, reason``, one column per question (points), ``total``
and ``max``. ``status`` is ``ok``; ``timeout``; or ``error`` with the reason — a notebook that cannot be
read, an unknown assignment, otter failing, or a cell that does not compile (that submission is still
graded: the cell's definitions are simply missing, so its questions score 0).

The checks run in the student's own kernel, so a notebook could redefine them. Grading cannot prevent that;
it points at it: a code cell (other than the first, otter's, and the ``grader.check`` cells) that mentions the
checking machinery (``pglab.exercises``, ``require``, ``otter``, ``grader``, ``sys.modules``, …) puts
``review: cell N mentions …`` in ``reason`` (the status and points are unchanged) — worth a look, not proof.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import checks

DEFAULT_TIMEOUT = 300.0


@dataclass
class Assignment:
    """An exercise set: its autograder zip and its questions with their points, in notebook order."""
    name: str
    autograder: Path
    points: dict[str, float]


@dataclass
class Grade:
    student: str
    assignment: str
    status: str
    reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def build_assignments(master_dir: Path, workdir: Path) -> dict[str, Assignment]:
    """Run ``otter assign`` on every master; return the assignments by name (``ch02_exercises``)."""
    import nbformat
    from .exercises.build import build
    notebooks = build(master_dir, workdir / "student", workdir / "autograder")
    out = {}
    for nb_path in notebooks:
        nb = nbformat.read(nb_path, as_version=4)
        meta = nb.metadata["otter"]
        points = {}
        order = re.findall(r'grader\.check\("(\w+)"\)', "\n".join(c.source for c in nb.cells if c.cell_type == "code"))
        for question, source in sorted(meta["tests"].items(),
                                       key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)):
            m = re.search(r"^points = (.+)$", source, flags=re.M)
            points[question] = float(m.group(1)) if m and m.group(1) != "None" else 1.0
        name = meta["assignment_name"]
        out[name] = Assignment(name, workdir / "autograder" / f"{nb_path.stem}-autograder.zip", points)
    return out


def find_submissions(directory: Path) -> list[Path]:
    """Every notebook under ``directory`` (checkpoints skipped), sorted."""
    return sorted(p for p in directory.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def student_of(path: Path, directory: Path) -> str:
    rel = path.relative_to(directory)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def syntax_errors(nb) -> list[str]:
    """Code cells that do not compile, as 'cell N, line L: message' (IPython magics are understood)."""
    from IPython.core.inputtransformer2 import TransformerManager
    tm, found = TransformerManager(), []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            compile(tm.transform_cell(cell.source), f"cell {i}", "exec")
        except SyntaxError as exc:
            found.append(f"SyntaxError in cell {i}, line {exc.lineno}: {exc.msg}")
    return found


TOUCHES_THE_CHECKS = re.compile(r"\bexercises\b|\brequire\b|\bFeedback\b|\botter\b|\bgrader\b|sys\.modules|"
                                r"__import__|importlib|\bsetattr\b|__dict__|globals\(\)")
"""Words a student's answer has no reason to use: they could replace or bypass pglab's checks."""


def review_notes(nb) -> list[str]:
    """'review: cell N mentions X' for code cells that touch the checking machinery (see the module doc)."""
    notes = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or (i == 0 and cell.source.startswith("# Initialize Otter")) \
                or re.fullmatch(r'\s*grader\.check\("\w+"\)\s*', cell.source):
            continue
        found = sorted({m.group(0) for m in TOUCHES_THE_CHECKS.finditer(cell.source)})
        if found:
            notes.append(f"review: cell {i} mentions {', '.join(found)}")
    return notes


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):   # the group is gone already
        pass


def grade_one(path: Path, directory: Path, assignments: dict[str, Assignment], timeout: float) -> Grade:
    """Grade one submission with ``otter run`` in a fresh process group; never raises."""
    import nbformat
    student, start = student_of(path, directory), time.monotonic()
    try:
        nb = nbformat.read(path, as_version=4)
        name = nb.metadata.get("otter", {}).get("assignment_name")
    except Exception as exc:   # empty file, not JSON, not a notebook
        return Grade(student, "", "error", f"not a readable notebook ({type(exc).__name__}: "
                                           f"{(str(exc).splitlines() or [''])[0][:120]})")
    if name not in assignments:
        return Grade(student, str(name or ""), "error",
                     f"unknown assignment {name!r}; known: {', '.join(sorted(assignments))}")
    assignment = assignments[name]
    problems = syntax_errors(nb)
    with tempfile.TemporaryDirectory(prefix="pglab-grade-") as out:
        cmd = [sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(assignment.autograder), "-o", out,
               str(path.resolve())]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True, cwd=out)
        try:
            log, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)            # the kernel running the notebook is in the same group
            proc.communicate()
            return Grade(student, name, "timeout", f"killed after {timeout:g} s (an endless loop?)",
                         {q: 0.0 for q in assignment.points}, time.monotonic() - start)
        finally:
            _kill_group(proc)            # a kernel left behind by a crashed run
        results = Path(out) / "results.json"
        if proc.returncode != 0 or not results.exists():
            last = [line for line in (log or "").strip().splitlines() if line.strip()][-1:] or ["no output"]
            return Grade(student, name, "error", f"otter run failed (exit {proc.returncode}): {last[0][:200]}",
                         {q: 0.0 for q in assignment.points}, time.monotonic() - start)
        data = json.loads(results.read_text())
    scores = {q: 0.0 for q in assignment.points}
    for test in data.get("tests", []):
        if test.get("name") in scores and test.get("score") is not None:
            scores[test["name"]] = float(test["score"])
    notes = review_notes(nb)                      # for the teacher's eyes: status and points unchanged
    status, reason = ("error", "; ".join(problems + notes)) if problems else ("ok", "; ".join(notes))
    return Grade(student, name, status, reason, scores, time.monotonic() - start)


def write_grades(grades: list[Grade], assignments: dict[str, Assignment], out: Path) -> None:
    questions = [q for a in sorted(assignments.values(), key=lambda a: a.name)
                 if any(g.assignment == a.name for g in grades) for q in a.points]
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "status", "reason", *questions, "total", "max"])
        for g in grades:
            a = assignments.get(g.assignment)
            row = [g.scores[q] if q in g.scores else "" for q in questions]
            total = sum(g.scores.values()) if g.scores else 0.0
            w.writerow([g.student, g.assignment, g.status, g.reason, *[_num(x) for x in row], _num(total),
                        _num(sum(a.points.values())) if a else ""])


def _num(x) -> str:
    return x if isinstance(x, str) else (f"{x:g}")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``grade`` on the CLI's subparsers."""
    p = subparsers.add_parser("grade", help="grade a folder of exercise notebooks into a CSV (otter, local)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submissions", help="directory holding the submitted notebooks (searched recursively)")
    p.add_argument("--out", required=True, help="CSV file to write (its directory must exist)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds allowed per submission, > 0 (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel, integer >= 1 (default 1)")
    p.add_argument("--masters", default=None, help="directory of the master notebooks (default exercises/master)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Validate the arguments, grade every submission, write the CSV; print one line per submission."""
    from .exercises.build import MASTER_DIR
    timeout = checks.positive_float("--timeout", args.timeout)
    jobs = checks.positive_int("--jobs", args.jobs)
    directory = Path(args.submissions).expanduser()
    if not directory.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR must be a directory of notebooks, got {str(directory)!r}")
    out = Path(args.out).expanduser()
    if out.is_dir():
        raise ValueError(f"--out must be a CSV file path, but {out} is a directory")
    if not out.parent.is_dir():
        raise ValueError(f"--out: directory {out.parent} does not exist")
    masters = Path(args.masters).expanduser() if args.masters else MASTER_DIR
    submissions = find_submissions(directory)
    if not submissions:
        raise ValueError(f"no notebooks (*.ipynb) found under {directory}")
    with tempfile.TemporaryDirectory(prefix="pglab-autograders-") as tmp:
        assignments = build_assignments(masters, Path(tmp))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            grades = list(pool.map(lambda p: grade_one(p, directory, assignments, timeout), submissions))
        write_grades(grades, assignments, out)
    for path, g in zip(submissions, grades):
        total = sum(g.scores.values())
        print(f"{path.relative_to(directory)}: {g.status} {total:g}" + (f" ({g.reason})" if g.reason else ""))
    print(f"wrote {out} ({len(grades)} submissions)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pglab")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["grade", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.run(args)
    except ValueError as exc:
        parser.error(str(exc))
