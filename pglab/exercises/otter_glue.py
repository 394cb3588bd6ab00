"""The glue to otter-grader: :func:`require` for the test cells, messages otter shows intact, the notebook's init.

otter-grader runs each test cell of a student notebook and shows a failing test's exception message. So
:func:`require` checks by name (:func:`pglab.exercises.registry.check`) and raises :class:`Feedback` — an
``AssertionError`` whose message is the feedback text — unless the answer passed. Three details of how otter
shows that message are handled here: it strips a trailing quote (:func:`safe_end`), it puts the text raw
inside an HTML ``<pre>`` where ``<eos>`` would vanish as a tag (:func:`html_safe`), and it prefixes the test's
source line (``_otter_shows_feedback_first`` shows our feedback alone). :func:`otter_notebook` is what the
student notebook's first cell calls: it also finds a renamed copy of the notebook.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from .registry import AnyExercise, check
from .result import CheckResult

QUOTES = "'\"‘’“”`"
"""A message must not end with one of these: otter 7 shows ``str(exception).strip("'")``."""


class Feedback(AssertionError):
    """Raised by :func:`require` when a check fails; its message is the teaching feedback."""


def require(exercise: AnyExercise | str, student: Any, seeds: Iterable[int] | None = None) -> CheckResult:
    """Like :func:`check`, but raise :class:`Feedback` (message = the feedback text) unless it passed.

    This is what otter-grader's test cells call: otter shows the exception's message to the student
    (with ``<``/``>`` made HTML-safe, see :func:`html_safe`).
    """
    result = check(exercise, student, seeds)
    if not result.passed:
        _otter_shows_feedback_first()
        raise Feedback("\n" + html_safe(safe_end(str(result))))
    return result


def safe_end(text: str) -> str:
    """``text`` without a quote at its very end (otter strips a trailing ``'`` off the message): a period is added.

    >>> safe_end("one of 'A', 'B', 'C'")
    "one of 'A', 'B', 'C'."
    """
    text = text.rstrip()
    return text + "." if text.endswith(tuple(QUOTES)) else text


def _otter_shows_feedback_first() -> None:
    """Let otter show a :class:`Feedback` as it is, instead of "Error at line 12 in test …: require(…)".

    otter 7 formats a failing exception-based test as the test's source line and ``Type: message``
    with quotes stripped (``otter/test_files/exception_test.py``), which reads like a bug in the test.
    For our Feedback only, the message is shown alone; other exceptions keep otter's format. Set
    ``PGLAB_OTTER_PLAIN=1`` to leave otter untouched.
    """
    import sys
    module = sys.modules.get("otter.test_files.exception_test")
    cls = getattr(module, "ExceptionTestFile", None) if module else None
    original = getattr(cls, "_generate_error_message", None)
    if original is None or getattr(original, "_pglab", False) or os.environ.get("PGLAB_OTTER_PLAIN"):
        return

    def _generate_error_message(self, excp, context: int = 0):
        if isinstance(excp, Feedback):
            return str(excp).lstrip("\n")
        return original(self, excp, context)

    _generate_error_message._pglab = True
    cls._generate_error_message = _generate_error_message


def html_safe(text: str) -> str:
    """otter shows a failing test's message raw inside an HTML ``<pre>``: a literal ``<eos>`` would vanish
    as an unknown tag. Tag-like brackets become ‹ › (readable in the HTML and in the plain-text report);
    a ``<`` that starts no tag (``γ < 1``) stays.

    >>> html_safe("G_t is 0 after <eos> when γ < 1, and <x")
    'G_t is 0 after ‹eos› when γ < 1, and ‹x'
    """
    text = re.sub(r"<(/?[A-Za-z!?][^<>]*)>", r"‹\1›", text)
    return re.sub(r"<(?=[A-Za-z/!?])", "‹", text)


def otter_notebook(filename: str) -> Any:
    """``otter.Notebook`` for an exercise notebook, also when the student renamed (or duplicated) the file.

    The student notebook's first cell calls this. otter reads the public tests from the notebook *file*
    (they are stored in its metadata) under the name given here; a renamed copy (``ch02_exercises (1).ipynb``,
    ``alice.ipynb``) in the same folder is found by its otter ``assignment_name``. When no such notebook,
    or several, are there, the error says to keep the file name. Under ``otter run`` (grading) nothing is
    looked up: otter ignores the name then.
    """
    import json
    from pathlib import Path

    import otter
    path = Path(filename)
    if getattr(otter.Notebook, "_grading_mode", False) or path.is_file():
        return otter.Notebook(filename)
    assignment = path.stem
    found = []
    for candidate in sorted(Path.cwd().glob("*.ipynb")):
        try:
            meta = json.loads(candidate.read_text(encoding="utf-8")).get("metadata", {})
        except (OSError, ValueError):
            continue
        if meta.get("otter", {}).get("assignment_name") == assignment:
            found.append(candidate.name)
    if len(found) == 1:
        return otter.Notebook(found[0])
    where = f"in {Path.cwd()}"
    detail = (f"found several copies {where}: {', '.join(found)}" if found
              else f"found no notebook of {assignment} {where}")
    raise FileNotFoundError(f"keep the file name {filename}: the checks are stored inside that notebook and "
                            f"grader.check reads them from the saved file ({detail}). Rename your notebook back "
                            f"to {filename}, save it, and run this cell again.")
