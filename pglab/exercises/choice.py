"""The short answer: one letter, checked against the answer, with an explanation for each wrong letter.

A :class:`ChoiceQuestion` is a short answer ("predict, then measure"): a letter, checked against
the answer, with an explanation for each wrong letter. ``measured=False`` marks a question answered
by reasoning: its feedback points at ``reconsider`` (an equation, an argument), not at a measurement.
A letter is read as students write it: ``"B"``, ``" b "``, ``"B."``, ``"(B)"``, ``"b)"`` (:func:`read_letter`).
The right letter is never shown in the feedback: a wrong one gets its explanation, which should send the
student back to the measurement (or the argument), not give the answer away.

>>> q = ChoiceQuestion(name="ch00_pick", chapter=0, title="t", variable="answer", minutes=1, difficulty="easy",
...                    choices={"A": "up", "B": "down"}, answer="B", explanations={"A": "look at the sign"})
>>> [q.check(v).status for v in ("B", "(b)", "A", "Z", None)]
['passed', 'passed', 'failed', 'failed', 'not implemented']
>>> q.check("a.").hint
'look at the sign'
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .result import DIFFICULTIES, CheckResult

LETTER = re.compile(r"\s*[(\[]?\s*([A-Za-z])\s*[)\]]?\s*[.:]?\s*")
"""One letter as students write it: ``B``, `` b ``, ``B.``, ``(B)``, ``b)``, ``[B]``, ``B:``."""


def read_letter(text: str) -> str:
    """The letter a short answer names, upper-cased; the stripped text itself when it is not one letter.

    >>> [read_letter(t) for t in ("B.", "(B)", "b)", " B ", "[c]", "B:", "AB", "B. because")]
    ['B', 'B', 'B', 'B', 'C', 'B', 'AB', 'B. BECAUSE']
    """
    m = LETTER.fullmatch(text)
    return m.group(1).upper() if m else text.strip().upper()


@dataclass
class ChoiceQuestion:
    """A short answer: one letter, e.g. a prediction checked by a measurement cell.

    ``explanations[letter]`` is the hint shown for a wrong letter (it should point at the
    measurement, not give the answer away). A conceptual question, answered by reasoning rather than
    measured, sets ``measured=False``: a wrong letter's feedback then says ``reconsider`` (e.g. "reread
    Eq. 4.1: when is E[b_t ∇log π] zero?") and "<letter> (<choice>) ``wrong_means``" instead of
    pointing at a measurement.
    """
    name: str
    chapter: int
    title: str
    variable: str
    minutes: int
    difficulty: str
    choices: dict[str, str]
    answer: str
    explanations: dict[str, str]
    measured: bool = True
    reconsider: str | None = None
    """Shown instead of the answer (default: run the measurement / reread the chapter's argument, and reconsider)."""
    wrong_means: str | None = None
    """Completes "<letter> (<choice>) …" for a wrong letter (default: is not what the measurement shows)."""
    kind: str = "choice"

    def __post_init__(self) -> None:
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {self.difficulty!r}")
        if self.answer not in self.choices:
            raise ValueError(f"answer {self.answer!r} is not one of the choices {sorted(self.choices)}")
        missing = set(self.choices) - {self.answer} - set(self.explanations)
        if missing:
            raise ValueError(f"{self.name}: explanations missing for wrong choices {sorted(missing)}")
        if not isinstance(self.measured, bool):
            raise ValueError(f"{self.name}: measured must be True or False, got {self.measured!r}")
        if self.reconsider is None:
            self.reconsider = ("run the measurement and reconsider" if self.measured
                               else "reread the chapter's argument and reconsider")
        if self.wrong_means is None:
            self.wrong_means = "is not what the measurement shows" if self.measured else "is not the right answer"

    def _letters(self) -> str:
        *first, last = list(self.choices)
        return f"{', '.join(first)} or {last}" if first else last

    def check(self, value: Any, seeds: Iterable[int] | None = None) -> CheckResult:
        example = next(iter(self.choices))
        if value is None or value is Ellipsis or (isinstance(value, str) and not value.strip()):
            return CheckResult(self.name, "not implemented", f"set `{self.variable}` to one of the letters "
                               f"{self._letters()}, as a string: {self.variable} = \"{example}\".")
        letter = read_letter(value) if isinstance(value, str) else value
        if letter not in self.choices:
            return CheckResult(self.name, "failed", got=value, expected=f"one of {self._letters()}",
                               problem=f"{value!r} is not one of the choices", hint_key="invalid",
                               hint=f"set `{self.variable}` to a single letter, {self._letters()}, as a string: "
                                    f"{self.variable} = \"{example}\".")
        if letter != self.answer:
            return CheckResult(self.name, "failed", got=letter, expected=f"(not shown: {self.reconsider})",
                               problem=f"{letter} ({self.choices[letter]}) {self.wrong_means}",
                               hint_key=f"choice_{letter}", hint=self.explanations[letter])
        return CheckResult(self.name, "passed", cases_run=1)
