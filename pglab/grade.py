"""``python -m pglab grade`` — grade a class's exercise notebooks locally, into one CSV.

    python -m pglab grade SUBMISSIONS_DIR --out grades.csv [--timeout 300] [--jobs 2]

Every ``*.ipynb`` under ``SUBMISSIONS_DIR`` is one submission: ``alice/ch02_exercises.ipynb`` belongs to
student ``alice`` (the first folder), a notebook directly in the directory to its file name
(``alice.ipynb`` → ``alice``). Which exercise set it answers is read from the notebook itself (otter's
``assignment_name``), so renamed files are fine.

The autograders are built from the master notebooks (``exercises/master`` of a checkout, or ``--masters``)
with ``otter assign``, then each submission is graded by ``otter run`` — no Docker, no network — on a private
copy, inside a bubblewrap sandbox (:mod:`pglab.sandbox`: it cannot see the other submissions, the masters or
your files, nor write anywhere but its results); where ``bwrap`` is missing or does not work, the run says so
first and the CSV's ``isolated`` column says ``no``. Each is killed after ``--timeout`` seconds, with every process
it started (a loop that never ends costs one timeout, not the class). The CSV has one row per
submission: ``student, assignment, status, reason, isolated``, one column per question (points), ``total``
and ``max``. ``status`` is ``ok`` (a cell that raised when the notebook ran is named in ``reason``: ``cell 7:
NameError: …``); ``timeout``; or ``error`` with the reason — a notebook that cannot be read, a symbolic link
(refused, never followed), an unknown assignment, otter failing, or a cell that does not compile (that
submission is still graded: the cell's definitions are simply missing, so its questions score 0). The exit
status is 1 when no submission could be graded.

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


def find_submissions(directory: Path) -> tuple[list[Path], list[Path]]:
    """Every notebook under ``directory`` (checkpoints skipped), sorted; and the symbolic links met on the way.

    A link is never followed: a submission linked to ``/etc/passwd`` or to a classmate's folder would be read as
    the grading user. Each link to a notebook or to a folder is returned so that it gets its own refused row.
    """
    notebooks, links = [], []
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs[:] = [d for d in dirs if d != ".ipynb_checkpoints"]
        for d in list(dirs):
            if os.path.islink(os.path.join(root, d)):
                links.append(Path(root, d))
                dirs.remove(d)
        for f in files:
            path = Path(root, f)
            if path.is_symlink():
                if f.endswith(".ipynb") or path.is_dir():
                    links.append(path)
            elif f.endswith(".ipynb"):
                notebooks.append(path)
    return sorted(notebooks), sorted(links)


def student_of(path: Path, directory: Path) -> str:
    rel = path.relative_to(directory)
    return printable(rel.parts[0] if len(rel.parts) > 1 else rel.stem)


def printable(text: str) -> str:
    """A file name as text that can be written anywhere: bytes that are not UTF-8 become ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid``, read from /proc (Linux; elsewhere none are found)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])   # "pid (name) state ppid ..."
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a submission's process group and every process below it.

    The group alone is not enough: jupyter starts each kernel in a session of its own, so without the sandbox
    (where bwrap's process namespace takes everything down with it) a timed-out kernel's own children — a
    ``subprocess`` a cell started — kept running. Each one is stopped first, so that nothing forks while we look.
    Only for a process still running (not yet waited for): a finished one's pid may already belong to another.
    """
    stopped: set[int] = set()
    for _ in range(10):
        new = [p for p in _descendants(proc.pid) if p not in stopped]
        if not new:
            break
        for pid in new:
            _signal(pid, signal.SIGSTOP)
        stopped.update(new)
    for pid in stopped:
        _signal(pid, signal.SIGKILL)
    _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):   # the group is gone already
        pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):   # gone already
        pass


def grade_one(path: Path, directory: Path, assignments: dict[str, Assignment], timeout: float,
              sandboxed: bool = False, hide: tuple[Path, ...] = ()) -> Grade:
    """Grade one submission with ``otter run`` in a fresh process group (in ``bwrap`` if ``sandboxed``); never raises."""
    try:
        return _grade_one(path, directory, assignments, timeout, sandboxed, hide)
    except Exception as exc:                   # one submission's surprise must not cost the class its CSV
        return Grade(student_of(path, directory), "", "error", f"could not be graded ({type(exc).__name__}: "
                                                               f"{printable(str(exc))[:160]})")


def _grade_one(path, directory, assignments, timeout, sandboxed, hide) -> Grade:
    import nbformat
    from . import sandbox
    student, start = student_of(path, directory), time.monotonic()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))   # a link swapped in since the scan: refused
        with os.fdopen(fd, "rb") as f:
            raw = f.read()
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        name = nb.metadata.get("otter", {}).get("assignment_name")
    except Exception as exc:   # empty file, not JSON, not a notebook
        return Grade(student, "", "error", f"not a readable notebook ({type(exc).__name__}: "
                                           f"{printable((str(exc).splitlines() or [''])[0])[:120]})")
    if name not in assignments:
        return Grade(student, printable(str(name or "")), "error",
                     f"unknown assignment {printable(repr(name))[:80]}; known: {', '.join(sorted(assignments))}")
    assignment = assignments[name]
    problems = syntax_errors(nb)
    zero = {q: 0.0 for q in assignment.points}
    with tempfile.TemporaryDirectory(prefix="pglab-grade-") as tmp:
        copy, out = Path(tmp, "submission", f"{name}.ipynb"), Path(tmp, "out")   # a private copy, a fresh out/
        copy.parent.mkdir()
        out.mkdir()
        copy.write_bytes(raw)
        if sandboxed:
            inner = sandbox.inner_command(f"{sandbox.GRADING}/{copy.name}", f"{sandbox.GRADING}/autograder.zip",
                                          f"{sandbox.GRADING}/out")
            cmd = sandbox.bwrap_command(inner, notebook=copy, autograder=assignment.autograder, outdir=out,
                                        hide=hide)
        else:
            cmd = sandbox.inner_command(str(copy), str(assignment.autograder), str(out))
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", start_new_session=True, cwd=out)
        try:
            log, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)             # the kernel running the notebook and whatever it started
            proc.communicate()
            return Grade(student, name, "timeout", f"killed after {timeout:g} s (an endless loop?)",
                         zero, time.monotonic() - start)
        finally:
            _kill_group(proc)            # a kernel left behind by a crashed run
        results = out / "results.json"
        if proc.returncode != 0 or not results.is_file():
            lines = [line for line in (log or "").strip().splitlines() if line.strip()]
            last = next((line for line in reversed(lines) if "Error" in line), lines[-1] if lines else "no output")
            return Grade(student, name, "error", f"otter run failed (exit {proc.returncode}): {last[:200]}",
                         zero, time.monotonic() - start)
        data = json.loads(results.read_text())
        errors_file = out / "errors.json"
        raised = [printable(str(e))[:200] for e in json.loads(errors_file.read_text())][:8] \
            if errors_file.is_file() else []
    scores = dict(zero)
    for test in data.get("tests", []):
        if test.get("name") in scores and isinstance(test.get("score"), (int, float)):
            scores[test["name"]] = float(test["score"])
    notes = review_notes(nb)                      # for the teacher's eyes: status and points unchanged
    raised = [] if problems else [f"{e} (raised when the notebook ran)" for e in raised]   # graded: status ok
    status, reason = ("error", "; ".join(problems + notes)) if problems else ("ok", "; ".join(raised + notes))
    return Grade(student, name, status, reason, scores, time.monotonic() - start)


def write_grades(grades: list[Grade], assignments: dict[str, Assignment], out: Path, isolated: str = "yes") -> None:
    """One row per submission; ``isolated`` ("yes", or "no: why") fills the column of that name on every row."""
    questions = [q for a in sorted(assignments.values(), key=lambda a: a.name)
                 if any(g.assignment == a.name for g in grades) for q in a.points]
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "status", "reason", "isolated", *questions, "total", "max"])
        for g in grades:
            a = assignments.get(g.assignment)
            row = [g.scores[q] if q in g.scores else "" for q in questions]
            total = sum(g.scores.values()) if g.scores else 0.0
            w.writerow([g.student, g.assignment, g.status, g.reason, isolated, *[_num(x) for x in row], _num(total),
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
    p.add_argument("--masters", default=None,
                   help="directory of the master notebooks (default: exercises/master of the pglab checkout; "
                        "required when pglab was installed from a wheel)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="grade without bubblewrap isolation (every submission can then read and change your files; "
                        "the CSV's isolated column says no)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Validate the arguments, grade every submission, write the CSV; print one line per submission.

    Exit status 0, or 1 when no submission could be graded (every row an error or a timeout)."""
    from . import sandbox
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
    if not masters.is_dir():
        raise ValueError(f"no master notebooks at {masters}: pass --masters DIR, the exercises/master folder of a "
                         "pglab checkout" if args.masters is None else f"--masters {masters} is not a directory")
    submissions, links = find_submissions(directory)
    if not submissions and not links:
        raise ValueError(f"no notebooks (*.ipynb) found under {directory}")
    why_not = "--no-sandbox was given" if args.no_sandbox else sandbox.unavailable()
    if why_not is None:
        print("grading in a sandbox (bwrap): each submission sees only its own notebook, the system read-only, "
              "no network")
    else:
        print(f"WARNING: grading is NOT isolated ({why_not}): every submission runs as you and can read, change or "
              "delete your files, its classmates' notebooks and the master notebooks. The CSV's isolated column "
              "says no.", flush=True)
    hide = (masters.resolve(), directory.resolve())
    refused = [Grade(student_of(link, directory), "", "error",
                     f"refused: {printable(str(link.relative_to(directory)))} is a symbolic link (not followed)")
               for link in links]
    with tempfile.TemporaryDirectory(prefix="pglab-autograders-") as tmp:
        assignments = build_assignments(masters, Path(tmp))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            grades = list(pool.map(lambda p: grade_one(p, directory, assignments, timeout, why_not is None, hide),
                                   submissions))
        write_grades(grades + refused, assignments, out, "yes" if why_not is None else "no")
    for path, g in zip(submissions + links, grades + refused):
        total = sum(g.scores.values())
        print(printable(f"{path.relative_to(directory)}: {g.status} {total:g}" + (f" ({g.reason})" if g.reason else "")))
    print(f"wrote {out} ({len(grades) + len(refused)} submissions{'' if why_not is None else ', NOT isolated'})")
    if not any(g.status == "ok" for g in grades):
        print("pglab: no submission could be graded (see the reason column)", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pglab")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["grade", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.run(args)
    except ValueError as exc:
        parser.error(str(exc))
