"""pglab as a package: each optional part names the extra it needs, and a wheel installed with the
[classroom] extra grades a class.

A missing extra is simulated by a ``sitecustomize`` that makes the extra's modules unimportable, as in a
venv where ``pip install pglab`` ran without ``[app]``, ``[sweep]`` or ``[classroom]``.
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _without(tmp_path: Path, modules: list[str], *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import sys
        class NotInstalled:                                  # as if pip never installed these
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {modules!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, NotInstalled())
    """))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})


def test_grade_without_the_classroom_extra_says_what_to_install(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "a.ipynb").write_text("{}")
    proc = _without(tmp_path, ["otter", "nbformat"], "-m", "pglab", "grade", "class", "--out", "g.csv",
                    "--masters", str(ROOT / "exercises" / "master"), "--no-sandbox")
    assert proc.returncode == 2, proc.stderr[-1500:]
    assert proc.stderr.strip().splitlines() == [
        'pglab: python -m pglab grade needs the optional [classroom] dependencies: pip install "pglab[classroom]" '
        "(missing module: nbformat)"], proc.stderr


def test_sweep_without_the_sweep_extra_says_what_to_install(tmp_path):
    (tmp_path / "grid.yaml").write_text("task: copy\nsteps: 2\n")
    proc = _without(tmp_path, ["yaml", "dask", "distributed", "pyarrow", "scipy", "rliable", "bokeh"],
                    "-m", "pglab", "sweep", "--grid", "grid.yaml", "--seeds", "1", "--out", "runs")
    assert proc.returncode == 2, proc.stderr[-1500:]
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert 'needs the optional [sweep] dependencies: pip install "pglab[sweep]"' in proc.stderr


def test_the_live_lab_without_the_app_extra_says_what_to_install(tmp_path):
    proc = _without(tmp_path, ["ipywidgets"], "-c", "import pglab.lab.app")
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last == ('ModuleNotFoundError: pglab.lab (the live lab) needs the optional [app] dependencies: '
                    'pip install "pglab[app]" (missing module: ipywidgets)'), proc.stderr[-800:]


def test_the_classroom_extra_brings_the_kernel_grading_runs_in():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {req.split(">")[0].split("=")[0].split("[")[0].strip() for req in extras["classroom"]}
    assert {"otter-grader", "ipykernel", "nbformat"} <= names, names


@pytest.mark.slow
def test_a_wheel_with_the_classroom_extra_grades_a_class(tmp_path):
    """Build the wheel, install it (no deps: they come from this venv through a .pth file, offline) into a fresh
    venv outside the checkout, and grade a perfect notebook with --masters (one kernel: a handed-out notebook's 0
    points are graded in tests/test_grade.py)."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True, timeout=600)
    wheel = next(wheels.glob("pglab-*.whl"))
    assert not any(n.startswith(("exercises/", "tests/")) for n in zipfile.ZipFile(wheel).namelist())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    ours = Path(subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz_project_deps.pth").write_text(f"{ours}\n")     # torch 2.13.0, otter, ipykernel: this venv's
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--quiet", str(wheel)], check=True, capture_output=True, timeout=600)
    where = subprocess.run([str(python), "-c", "import pglab; print(pglab.__file__)"], capture_output=True,
                           text=True, check=True, cwd=tmp_path).stdout.strip()
    assert where.startswith(str(site)), where                 # the wheel's copy, not the checkout

    from tests.exercise_fixtures import submissions
    subs = submissions()
    master = ROOT / "exercises" / "master" / "ch01_exercises.ipynb"
    student = ROOT / "exercises" / "student" / "ch01_exercises.ipynb"
    subs.fill(student, subs.master_solutions(master), tmp_path / "class" / "perfect" / student.name)
    grade = [str(python), "-m", "pglab", "grade", "class", "--out", "grades.csv", "--timeout", "300"]
    missing = subprocess.run(grade, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert missing.returncode == 2 and "pass --masters DIR" in missing.stderr, missing.stderr[-800:]
    assert len(missing.stderr.strip().splitlines()[-1:]) == 1 and "Traceback" not in missing.stderr
    proc = subprocess.run([*grade, "--masters", str(master.parent)], capture_output=True, text=True, cwd=tmp_path,
                          timeout=900)
    assert proc.returncode == 0, (proc.stdout[-1500:], proc.stderr[-1500:])
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "grades.csv"))}
    assert rows.keys() == {"perfect"}
    assert rows["perfect"]["status"] == "ok" and rows["perfect"]["total"] == rows["perfect"]["max"], rows["perfect"]
    assert rows["perfect"]["isolated"] == ("yes" if proc.stdout.startswith("grading in a sandbox") else "no")
    assert "NoSuchKernel" not in proc.stdout
