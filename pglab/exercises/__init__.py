"""Classroom exercises for chapters 01–08, with checks that recognise the classic mistakes.

Every chapter ``chNN`` in this package (a module, or a package with one module per exercise) defines
``EXERCISES`` (a list of :class:`Exercise`, :class:`ChoiceQuestion` and :class:`~pglab.exercises.order.OrderQuestion`);
:mod:`.registry` collects them, by name, in :data:`EXERCISES` — a new chapter is picked up without editing
any file. The machinery, one job per module: :mod:`.compare`, :mod:`.result`, :mod:`.calling`,
:mod:`.function`, :mod:`.choice`, :mod:`.order`, :mod:`.registry`, :mod:`.otter_glue` (:mod:`.core` keeps
their old names). Master notebooks (with solutions) live in ``exercises/master/``;
``python -m pglab.exercises.build`` regenerates the student notebooks in ``exercises/student/``;
``python -m pglab grade`` grades a class (see :mod:`pglab.grade`).
"""
from __future__ import annotations

from . import core  # noqa: F401  (pglab.exercises.core.X, the machinery's old names)
from .choice import ChoiceQuestion
from .function import Case, Diagnosis, Exercise, mistake, symptom
from .order import OrderQuestion
from .otter_glue import Feedback, otter_notebook, require
from .registry import CHAPTER_MODULES, EXERCISES, check  # noqa: F401  (CHAPTER_MODULES: as before)
from .result import CheckResult

__all__ = ["Case", "CheckResult", "ChoiceQuestion", "Diagnosis", "Exercise", "Feedback", "EXERCISES",
           "OrderQuestion", "check", "mistake", "otter_notebook", "require", "symptom"]
