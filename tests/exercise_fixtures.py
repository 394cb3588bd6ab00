"""What the exercise tests share: the exercises by kind, the wrong-answer fixtures, the submission builders, and
one IPython kernel that runs several notebooks (tests/test_exercises_notebooks.py).

Not a test module: the test files import it (``from tests.exercise_fixtures import ...``).
"""
from __future__ import annotations

import importlib.util
import re
import textwrap
from pathlib import Path

import nbformat

from pglab.exercises import EXERCISES, ChoiceQuestion, Exercise

FIXTURES = Path(__file__).parent / "fixtures" / "exercises"
FUNCTIONS = [ex for ex in EXERCISES.values() if isinstance(ex, Exercise)]
CHOICES = [ex for ex in EXERCISES.values() if isinstance(ex, ChoiceQuestion)]


def load_fixture(name: str):
    """A module of tests/fixtures/exercises by file stem (``wrong_ch02``, ``submissions``), imported by path."""
    path = FIXTURES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"exercise_fixture_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WRONG = [w for path in sorted(FIXTURES.glob("wrong_ch*.py")) for w in load_fixture(path.stem).WRONG]
"""(exercise name, expected hint key, wrong function) for every chapter's fixture file."""


def renamed(ex, names, *, positional_only=False):
    """A correct solution written with other parameter names (as a student would), calling the reference."""
    ns = {"ref": ex.reference}
    params = ", ".join(names) + (", /" if positional_only else "")
    exec(f"def {ex.function}({params}):\n    return ref({', '.join(names)})", ns)
    return ns[ex.function]


def submissions():
    """tests/fixtures/exercises/submissions.py: ``fill``, ``master_solutions``, ``student_source``."""
    return load_fixture("submissions")


def check_cell_outputs(nb) -> dict[str, str]:
    """What each ``grader.check("name")`` cell of an executed notebook displayed, by question name."""
    shown = {}
    for cell in nb.cells:
        m = re.search(r'grader\.check\("(\w+)"\)', cell.source) if cell.cell_type == "code" else None
        if m:
            shown[m.group(1)] = "\n".join(o.get("data", {}).get("text/plain", "") + o.get("text", "")
                                          for o in cell.get("outputs", []))
    return shown


def errors_of(nb) -> list[tuple[str, str, str]]:
    """(first line of the cell, exception name, message) for every cell of an executed notebook that raised."""
    return [((c.source.splitlines() or [""])[0], o.get("ename"), o.get("evalue")) for c in nb.cells
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


class SharedKernel:
    """One IPython kernel that runs several notebooks one after the other, each as if in a fresh kernel.

    Starting a kernel and importing torch, pglab and otter costs a few seconds of CPU; the notebooks' own cells
    cost less. Before each notebook the kernel forgets every name (``%reset -f``), changes into the notebook's
    folder (``grader.check`` writes its log there), puts torch's global settings back, and asserts that no name of
    an earlier notebook is left: a notebook that forgot an import or a definition still fails with a
    ``NameError``. What is shared is only what Python caches (imported modules).
    """

    RESET = textwrap.dedent("""\
        %reset -f
        import os as _os
        _os.chdir({folder!r})
        import torch as _torch
        _torch.set_default_dtype(_torch.float32)
        _torch.set_num_threads({threads})
        _left = [k for k in globals() if not k.startswith("_") and k not in ("In", "Out", "exit", "quit",
                                                                               "get_ipython", "open")]
        assert not _left, f"names left from an earlier notebook: {{_left}}"
        del _os, _torch, _left
        """)

    def __init__(self, folder: Path):
        from nbclient import NotebookClient
        import torch
        self.threads = torch.get_num_threads()
        self.client = NotebookClient(nbformat.v4.new_notebook(), timeout=600, kernel_name="python3",
                                     allow_errors=True, resources={"metadata": {"path": str(folder)}})
        self._context = None

    def __enter__(self) -> SharedKernel:
        self._context = self.client.setup_kernel()
        self._context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)

    def run(self, nb, folder: Path):
        """Execute every code cell of ``nb`` in order (outputs stored in ``nb``), in ``folder``; return ``nb``."""
        reset = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            self.RESET.format(folder=str(folder), threads=self.threads))])
        self.client.nb = reset
        self.client.execute_cell(reset.cells[0], 0)
        assert not errors_of(reset), errors_of(reset)
        self.client.nb = nb
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                self.client.execute_cell(cell, i)
        return nb
