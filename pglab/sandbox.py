"""Grade one submission in a sandbox: bubblewrap (``bwrap``) around ``otter run``.

A submission is code the teacher runs on their own machine, as their own user. Without isolation one extra
cell can read every classmate's notebook, copy the master notebooks (the solutions), delete a classmate's
file or reach the network. With ``bwrap`` each submission runs in a throw-away filesystem view:

* the system (``/usr``, ``/etc``, …) and the Python environment (the interpreter, its site-packages and the
  ``pglab`` package) are mounted **read-only**; the teacher's home, the submissions folder, the master
  notebooks and the other autograders are simply not there (an allow-list, not a deny-list);
* ``/tmp`` is a fresh, empty in-memory folder; the only other things inside are a private **copy** of this
  notebook and this assignment's autograder zip (both read-only) and an empty output folder for
  ``results.json`` — the one place a write can leave the sandbox;
* no network (``--unshare-net``: only a loopback of its own, which the kernel needs), its own process
  ids (it cannot see or signal the grader's processes), a new session (no typing into the teacher's
  terminal), and everything is killed when the grader stops waiting (``--die-with-parent``).

What it does **not** stop, because otter works this way: the hidden tests of *this* assignment are unpacked
next to the notebook and run *in the student's own kernel* (that is how otter grades: it appends the test
cells to the notebook and executes them in the same interpreter), so the student's code can read them and
can override the checks or the results they produce. What it reads leaves the sandbox only through its own
CSV row (its scores, and exception messages quoted in ``reason``): it cannot hand the tests to a classmate's
run, but it can forge its own score. Nor does it cap memory
or disk beyond what the machine has (``/tmp`` lives in memory); time is capped by ``--timeout``.

``python -P pglab/sandbox.py AUTOGRADER NOTEBOOK OUTDIR`` is what runs inside: ``otter run`` as a library
call, then ``OUTDIR/errors.json`` lists the cells that raised (``cell 7: NameError: …``), so the CSV can
name a runtime or import error, not only a syntax error.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

GRADING = "/grading"
"""Where the notebook copy, the autograder zip and the output folder appear inside the sandbox."""

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@functools.lru_cache(maxsize=None)
def python_dirs() -> tuple[str, ...]:
    """The folders this interpreter imports from (its prefixes, ``sys.path`` in isolated mode, and pglab)."""
    import pglab
    out = subprocess.run([sys.executable, "-I", "-c", "import json, sys; print(json.dumps(sys.path))"],
                         capture_output=True, text=True, check=True)
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(pglab.__file__).resolve().parent),
             *json.loads(out.stdout)}
    dirs = sorted({str(Path(p).resolve()) for p in found if p and Path(p).is_dir()})
    return tuple(d for d in dirs if not any(d != o and d.startswith(o.rstrip("/") + "/") for o in dirs))


def bwrap_command(inner: list[str], *, notebook: Path, autograder: Path, outdir: Path,
                  hide: tuple[Path, ...] = ()) -> list[str]:
    """``inner`` wrapped in ``bwrap`` with the view described in the module doc.

    ``hide``: folders that must not be seen even if they lie inside a mounted one (the master notebooks
    and the submissions when ``pglab`` runs from a checkout next to them) — each gets an empty tmpfs on top.
    """
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
           "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for d in SYSTEM_DIRS:
        if Path(d).is_symlink():                     # /bin -> usr/bin on merged-/usr systems
            cmd += ["--symlink", os.readlink(d), d]
        elif Path(d).is_dir():
            cmd += ["--ro-bind", d, d]
    mounted = [d for d in python_dirs() if not d.startswith(SYSTEM_DIRS)]
    for d in mounted:
        cmd += ["--ro-bind", d, d]
    for h in hide:
        h = Path(h).resolve()
        if h.is_dir() and any(str(h).startswith(d.rstrip("/") + "/") or str(h) == d
                              for d in [*mounted, *SYSTEM_DIRS]):
            cmd += ["--tmpfs", str(h)]
    cmd += ["--ro-bind", str(notebook), f"{GRADING}/{notebook.name}",
            "--ro-bind", str(autograder), f"{GRADING}/autograder.zip",
            "--bind", str(outdir), f"{GRADING}/out", "--chdir", f"{GRADING}/out",
            "--setenv", "HOME", "/tmp/home", "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib"]
    for key in KEPT_ENV:
        if key in os.environ:
            cmd += ["--setenv", key, os.environ[key]]
    for key, value in os.environ.items():            # PGLAB_* settings (PGLAB_FAST, a test's marker)
        if key.startswith("PGLAB_"):
            cmd += ["--setenv", key, value]
    return cmd + ["--", *inner]


def inner_command(notebook: str, autograder: str, outdir: str) -> list[str]:
    """The grading command itself (run inside the sandbox, or bare when there is none).

    This file is run as a script, not ``-m pglab.sandbox``: ``-m`` would first import the ``pglab`` package, and
    with it torch (about 2 s of CPU per submission) in a process that only drives otter; the student's kernel
    imports pglab itself. ``-P`` keeps this file's folder off ``sys.path`` (pglab's ``statistics.py`` would
    otherwise hide the standard library's ``statistics`` from otter and pandas).
    """
    return [sys.executable, "-P", str(Path(__file__).resolve()), autograder, notebook, outdir]


@functools.lru_cache(maxsize=None)
def unavailable() -> str | None:
    """None when ``bwrap`` works here; else why not (not installed, or user namespaces switched off)."""
    if shutil.which("bwrap") is None:
        return "bwrap (Debian/Ubuntu package bubblewrap) is not installed"
    # pglab and otter must be found inside (found, not imported: importing pglab would import torch, ~2 s)
    find = ("import importlib.util as u, sys\nfor m in ('pglab', 'otter'):\n"
            "    if u.find_spec(m) is None: sys.exit(f'{m} cannot be imported inside the sandbox')")
    probe = bwrap_command([sys.executable, "-c", find], notebook=Path(__file__),
                          autograder=Path(__file__), outdir=Path(__file__).parent)
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap does not start ({err})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"bwrap does not work here ({last[:160]})"
    return None


def cell_errors(original, executed) -> list[str]:
    """'cell N: Name: message' for each cell of ``original`` whose run in ``executed`` raised."""
    index = {cell.get("id"): i for i, cell in enumerate(original.cells) if cell.get("id")}
    by_source = {cell.source: i for i, cell in enumerate(original.cells)}
    found = []
    for cell in executed.cells:
        i = index.get(cell.get("id"), by_source.get(cell.get("source")))
        if i is None or cell.cell_type != "code":
            continue                                  # a cell otter added (its own set-up and checks)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                value = (str(output.get("evalue", "")).strip().splitlines() or [""])[0][:160]
                found.append(f"cell {i}: {output.get('ename', 'Error')}" + (f": {value}" if value else ""))
    return found


def main(argv: list[str]) -> int:
    """Inside the sandbox: grade ``NOTEBOOK`` with ``AUTOGRADER`` into ``OUTDIR`` (results.json, errors.json)."""
    import logging

    import nbformat
    from otter.run import main as otter_run
    autograder, notebook, outdir = argv
    logging.getLogger("otter").setLevel(logging.WARNING)
    results = otter_run(notebook, autograder=autograder, output_dir=outdir, no_logo=True)
    errors = cell_errors(nbformat.read(notebook, as_version=4), results.notebook) if results.notebook else []
    Path(outdir, "errors.json").write_text(json.dumps(errors))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
