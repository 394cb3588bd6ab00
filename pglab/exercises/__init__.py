"""Classroom exercises for chapters 01–08, with checks that recognise the classic mistakes.

Every module ``chNN.py`` in this package defines ``EXERCISES`` (a list of :class:`Exercise`,
:class:`ChoiceQuestion` and :class:`~pglab.exercises.order.OrderQuestion`); they are collected here, by name,
in :data:`EXERCISES` — a new chapter module is picked up without editing this file. Master notebooks (with solutions) live in
``exercises/master/``; ``python -m pglab.exercises.build`` regenerates the student notebooks in
``exercises/student/``; ``python -m pglab grade`` grades a class (see :mod:`pglab.grade`).
"""
from __future__ import annotations

import importlib
import pkgutil

from .core import (Case, CheckResult, ChoiceQuestion, Diagnosis, Exercise, Feedback, check, mistake,
                   otter_notebook, require, symptom)
from .order import OrderQuestion

__all__ = ["Case", "CheckResult", "ChoiceQuestion", "Diagnosis", "Exercise", "Feedback", "EXERCISES",
           "OrderQuestion", "check", "mistake", "otter_notebook", "require", "symptom"]

CHAPTER_MODULES = sorted(m.name for m in pkgutil.iter_modules(__path__)
                         if len(m.name) == 4 and m.name.startswith("ch") and m.name[2:].isdigit())
"""The chapter modules found in this package (``ch01`` … ``ch08``)."""

EXERCISES: dict = {}
"""Every exercise and short-answer question, by name (``"ch02_reward_to_go"``)."""

for _module in CHAPTER_MODULES:
    for _ex in importlib.import_module(f"{__name__}.{_module}").EXERCISES:
        if _ex.name in EXERCISES:
            raise ValueError(f"duplicate exercise name {_ex.name!r} in {_module}")
        EXERCISES[_ex.name] = _ex
