"""Every exercise of every chapter, by name, and :func:`check` by name.

Each chapter module (or package) ``chNN`` of :mod:`pglab.exercises` defines ``EXERCISES``, a list of
:class:`~pglab.exercises.function.Exercise`, :class:`~pglab.exercises.choice.ChoiceQuestion` and
:class:`~pglab.exercises.order.OrderQuestion`. They are found here by name (``ch01`` … ``ch08``: a new
chapter is picked up without editing any file) and collected, by exercise name, in :data:`EXERCISES`.

This module sits above the chapters and below the otter glue (:mod:`.otter_glue`, whose ``require`` checks
by name): the chapters import only the question types beneath them, so nothing imports in a circle.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .choice import ChoiceQuestion
from .function import Exercise
from .order import OrderQuestion
from .result import CheckResult

PACKAGE = __name__.rpartition(".")[0]
"""``pglab.exercises``: the package whose chapter modules are collected."""

CHAPTER_MODULES = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                         if len(m.name) == 4 and m.name.startswith("ch") and m.name[2:].isdigit())
"""The chapter modules found in this package (``ch01`` … ``ch08``)."""

EXERCISES: dict = {}
"""Every exercise and short-answer question, by name (``"ch02_reward_to_go"``)."""

for _module in CHAPTER_MODULES:
    for _ex in importlib.import_module(f"{PACKAGE}.{_module}").EXERCISES:
        if _ex.name in EXERCISES:
            raise ValueError(f"duplicate exercise name {_ex.name!r} in {_module}")
        EXERCISES[_ex.name] = _ex

AnyExercise = Exercise | ChoiceQuestion | OrderQuestion


def check(exercise: AnyExercise | str, student: Any, seeds: Iterable[int] | None = None) -> CheckResult:
    """Check a student function (or, for a :class:`ChoiceQuestion`, a letter). Never raises for the student's bug."""
    if isinstance(exercise, str):
        if exercise not in EXERCISES:
            raise KeyError(f"unknown exercise {exercise!r}; known: {', '.join(sorted(EXERCISES))}")
        exercise = EXERCISES[exercise]
    return exercise.check(student, seeds)
