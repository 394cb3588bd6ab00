"""The machinery behind the classroom exercises, by the names it has always had (``pglab.exercises.core.X``).

The machinery now lives in one module per job; this module re-exports their names, so the masters' hidden
tests (``from pglab.exercises.core import HIDDEN_SEEDS``) and older imports keep working. Read them in order,
from the bottom up:

- :mod:`.compare` — comparing an answer with the reference, and the one-line description of a difference;
- :mod:`.result` — :class:`CheckResult`, what a check found and how it reads;
- :mod:`.calling` — calling the student's function: stubs, signatures, in-place changes, unusable returns;
- :mod:`.function` — :class:`Exercise` (a function the student writes), :class:`Case`, :func:`mistake`,
  :func:`symptom`, the public and hidden seeds;
- :mod:`.choice` — :class:`ChoiceQuestion` (one letter) and :func:`read_letter`;
- :mod:`.order` — :class:`~pglab.exercises.order.OrderQuestion` (the steps of a proof, in order);
- :mod:`.registry` — every chapter's exercises by name (``EXERCISES``) and :func:`check` by name;
- :mod:`.otter_glue` — :func:`require` and :class:`Feedback` for otter's test cells, :func:`otter_notebook`.

>>> check("ch02_reward_to_go", None).status
'not implemented'
"""
from __future__ import annotations

from .calling import (IN_PLACE_HINT, RETURNED_NUMBER_HINT, NotImplementedYet, WrongOutput,  # noqa: F401
                      WrongSignature, call, changed_input, clone_inputs, default_observe, is_number,
                      numbers_for_tensors, positional, unusable_output)
from .choice import LETTER, ChoiceQuestion, read_letter  # noqa: F401
from .compare import _block, _fmt, _indent, as_tensor, compare_fields, compare_tensors, shape_hint  # noqa: F401
from .function import DEFAULT_SEEDS, HIDDEN_SEEDS, Case, Diagnosis, Exercise, mistake, symptom  # noqa: F401
from .otter_glue import (QUOTES, Feedback, _otter_shows_feedback_first, html_safe, otter_notebook,  # noqa: F401
                         require, safe_end)
from .registry import AnyExercise, check  # noqa: F401
from .result import DIFFICULTIES, NO_MATCH_HINT, CheckResult  # noqa: F401
