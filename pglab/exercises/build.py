"""Regenerate the student notebooks (and, on request, the autograders) from the master notebooks.

    python -m pglab.exercises.build                       # exercises/master/*.ipynb -> exercises/student/
    python -m pglab.exercises.build ch02 ch03             # only these chapters
    python -m pglab.exercises.build --autograder-dir DIR  # also write DIR/chNN_exercises-autograder.zip

The masters (``exercises/master/chNN_exercises.ipynb``) hold the solutions in otter-grader's
"assign" format. ``otter assign`` strips the solutions, turns each test cell into a hidden or
public test stored in the student notebook's metadata (so ``grader.check`` works with no extra
files), and zips an autograder. The init cell otter writes, ``otter.Notebook("chNN_exercises.ipynb")``,
becomes :func:`pglab.exercises.core.otter_notebook`, which also finds a renamed copy of the notebook
(and otherwise says to keep the file name). The student notebooks are committed; the autograder zips are not
(their names and contents carry timestamps) — ``python -m pglab grade`` builds them on the fly.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
MASTER_DIR = ROOT / "exercises" / "master"
STUDENT_DIR = ROOT / "exercises" / "student"


def masters(master_dir: Path = MASTER_DIR, only: Sequence[str] | None = None) -> list[Path]:
    """The master notebooks, ``chNN_exercises.ipynb``, in chapter order (``only``: chapter prefixes, "ch02")."""
    found = sorted(Path(master_dir).glob("ch[0-9][0-9]_exercises.ipynb"))
    if not found:
        raise FileNotFoundError(f"no master notebooks ch??_exercises.ipynb in {master_dir}")
    if only:
        unknown = [c for c in only if not any(p.name.startswith(c + "_") for p in found)]
        if unknown:
            raise ValueError(f"no master notebook for {', '.join(unknown)}; have: "
                             f"{', '.join(p.name.split('_')[0] for p in found)}")
        found = [p for p in found if p.name.split("_")[0] in only]
    return found


INIT_CELL = ("# Initialize Otter (keep the file name {filename}: the checks are stored in it)\n"
             "import otter\n"
             "from pglab.exercises import otter_notebook\n"
             "grader = otter_notebook(\"{filename}\")")
"""The student notebook's first cell (otter's own reads the file by its name only: a renamed notebook failed)."""


def _normalise(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Stable cell ids and no outputs, so a rebuild of an unchanged master changes no byte; pglab's init cell."""
    init = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Initialize Otter")]
    if len(init) != 1 or f'otter.Notebook("{name}.ipynb")' not in init[0].source:
        raise RuntimeError(f"{name}: expected one otter init cell calling otter.Notebook(\"{name}.ipynb\")")
    init[0].source = INIT_CELL.format(filename=f"{name}.ipynb")
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name}-{i:02d}"
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k not in ("execution",)}
    return nb


def assign(master: Path, workdir: Path) -> tuple[Path, Path]:
    """Run ``otter assign`` on one master into ``workdir``; return (student notebook, autograder zip)."""
    from otter.assign import main as otter_assign
    master, workdir = Path(master).resolve(), Path(workdir).resolve()
    cwd = os.getcwd()
    logging.getLogger("otter").setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            otter_assign(str(master), str(workdir), no_run_tests=True)
    finally:
        os.chdir(cwd)
    student = workdir / "student" / master.name
    zips = sorted((workdir / "autograder").glob("*-autograder_*.zip"))
    if not student.exists() or not zips:
        raise RuntimeError(f"otter assign produced no student notebook or autograder for {master}")
    return student, zips[-1]


def build(master_dir: Path = MASTER_DIR, student_dir: Path = STUDENT_DIR,
          autograder_dir: Path | None = None, only: Sequence[str] | None = None) -> list[Path]:
    """Write every student notebook (and autograder zip) generated from the masters; return the notebooks."""
    student_dir = Path(student_dir)
    student_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for master in masters(master_dir, only):
        name = master.stem
        with tempfile.TemporaryDirectory() as tmp:
            student, zipped = assign(master, Path(tmp) / "dist")
            nb = _normalise(nbformat.read(student, as_version=4), name)
            out = student_dir / master.name
            nbformat.write(nb, out)
            written.append(out)
            if autograder_dir is not None:
                Path(autograder_dir).mkdir(parents=True, exist_ok=True)
                shutil.copy(zipped, Path(autograder_dir) / f"{name}-autograder.zip")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pglab.exercises.build", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("chapters", nargs="*", help="chapters to build, e.g. ch02 ch03 (default: all)")
    p.add_argument("--masters", default=str(MASTER_DIR), help="directory of the master notebooks")
    p.add_argument("--student-dir", default=str(STUDENT_DIR), help="where the student notebooks go")
    p.add_argument("--autograder-dir", default=None, help="also write the autograder zips here")
    args = p.parse_args(argv)
    for path in build(Path(args.masters), Path(args.student_dir),
                      None if args.autograder_dir is None else Path(args.autograder_dir), args.chapters):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
