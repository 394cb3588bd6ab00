"""An answer type for proofs: put the steps in an order where each one uses only what comes before it.

An :class:`OrderQuestion` lists the steps of a derivation under letters, says which earlier steps each one
*uses* (``requires``), and may add false steps (``distractors``) that a correct proof leaves out. Any order
that puts every true step after the steps it uses is right — a proof often has several (two lemmas can
come in either order) — so the check tests the dependencies, not one memorised string.

The feedback teaches without giving the order away: a step placed before a step it uses is named, with
``why[step]`` (what that step needs, in words); a false step that was kept is named with
``distractors[step]`` (why it is false); a true step that was left out is named.

>>> q = OrderQuestion(name="ch00_proof", chapter=0, title="t", variable="order", minutes=2, difficulty="easy",
...                   steps={"A": "a = 1", "B": "so b = a + 1 = 2", "C": "a = 0"},
...                   requires={"B": "A"}, answer="AB", why={"B": "b is computed from a"},
...                   distractors={"C": "a is 1, not 0"})
>>> [q.check(v).status for v in ("AB", "A, B", "(a) → (b)", "BA", "ABC", "A")]
['passed', 'passed', 'passed', 'failed', 'failed', 'failed']
>>> q.check("BA").hint_key, q.check("ACB").hint_key, q.check("A").hint_key
('early_B', 'false_C', 'missing_B')
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .choice import read_letter
from .result import DIFFICULTIES, CheckResult

SEPARATORS = re.compile(r"[\s,;.:()\[\]→\->–—]+")
"""What may stand between the letters of an order: spaces, commas, arrows, parentheses, dashes."""


def read_order(value: Any) -> list[str] | None:
    """The letters of an order as students write it ("BADC", "B, A, D, C", "B → A → D → C", ["b", "a"]), upper-cased;
    None when it is not a sequence of single letters.

    >>> read_order("b, a -> (d) c"), read_order(["B", "a."]), read_order("BA then C")
    (['B', 'A', 'D', 'C'], ['B', 'A'], None)
    """
    if isinstance(value, (list, tuple)):
        letters = [read_letter(v) if isinstance(v, str) else None for v in value]
        return letters if all(isinstance(x, str) and len(x) == 1 and x.isalpha() for x in letters) else None
    if not isinstance(value, str):
        return None
    parts = [p for p in SEPARATORS.split(value) if p]
    if not parts or not all(p.isalpha() and p.isascii() for p in parts):
        return None
    if all(len(p) == 1 for p in parts):
        return [p.upper() for p in parts]
    return list("".join(parts).upper()) if len(parts) == 1 else None


@dataclass
class OrderQuestion:
    """Order the steps of a proof (see the module docstring). ``answer`` is one valid order (the master's)."""
    name: str
    chapter: int
    title: str
    variable: str
    minutes: int
    difficulty: str
    steps: dict[str, str]
    requires: dict[str, str]
    """For each step, the letters of the earlier steps it uses ("" or absent: none)."""
    answer: str
    why: dict[str, str]
    """For each step that uses others: what it needs, said without naming the order (the hint when it comes early)."""
    distractors: dict[str, str] = field(default_factory=dict)
    """False steps (their letters are in ``steps``), each with why it is false."""
    kind: str = "order"

    def __post_init__(self) -> None:
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {self.difficulty!r}")
        if not (isinstance(self.minutes, int) and 1 <= self.minutes <= 60):
            raise ValueError(f"minutes must be an integer in [1, 60], got {self.minutes!r}")
        unknown = (set(self.requires) | set("".join(self.requires.values())) | set(self.distractors)) - set(self.steps)
        if unknown:
            raise ValueError(f"{self.name}: requires/distractors name unknown steps {sorted(unknown)}")
        if set("".join(self.requires.get(k, "") for k in self.true_steps)) & set(self.distractors):
            raise ValueError(f"{self.name}: a true step cannot require a false one")
        missing = {k for k in self.true_steps if self.requires.get(k)} - set(self.why)
        if missing:
            raise ValueError(f"{self.name}: why missing for steps {sorted(missing)}")
        result = self.check(self.answer)
        if not result.passed:
            raise ValueError(f"{self.name}: the answer {self.answer!r} is not a valid order: {result.problem}")

    @property
    def true_steps(self) -> list[str]:
        return [k for k in self.steps if k not in self.distractors]

    def _example(self) -> str:
        return ", ".join(sorted(self.true_steps)[:3]) + ", …"

    def check(self, value: Any, seeds: Iterable[int] | None = None) -> CheckResult:
        if value is None or value is Ellipsis or (isinstance(value, (str, list, tuple)) and not value):
            return CheckResult(self.name, "not implemented",
                               f"set `{self.variable}` to the letters of the steps in your order, as a string: "
                               f"{self.variable} = \"{self._example()}\".")
        order = read_order(value)
        letters = ", ".join(self.steps)
        if order is None or set(order) - set(self.steps) or len(set(order)) != len(order):
            why = ("each step at most once" if order is not None and len(set(order)) != len(order)
                   else f"only the letters {letters}")
            return CheckResult(self.name, "failed", got=value, expected=f"an order of the letters {letters}",
                               problem=f"{value!r} is not an order of the steps ({why})", hint_key="invalid",
                               hint=f"write the letters in your order, each at most once, as a string: "
                                    f"{self.variable} = \"{self._example()}\".")
        shown = ", ".join(order)
        expected = "(not shown: each step after the steps it uses)"
        for k in order:
            if k in self.distractors:
                return CheckResult(self.name, "failed", got=shown, expected=expected,
                                   problem=f"step {k} is false: a correct proof cannot use it",
                                   hint_key=f"false_{k}", hint=self.distractors[k])
        for k in self.true_steps:
            if k not in order:
                return CheckResult(self.name, "failed", got=shown, expected=expected,
                                   problem=f"your order leaves out step {k}, which is true and needed",
                                   hint_key=f"missing_{k}",
                                   hint=(f"exactly {len(self.distractors)} step(s) are false; every other step is "
                                         "part of the proof, each once." if self.distractors
                                         else "every step is part of the proof, each once."))
        for i, k in enumerate(order):
            later = [r for r in self.requires.get(k, "") if r in order[i + 1:]]
            if later:
                return CheckResult(self.name, "failed", got=shown, expected=expected,
                                   problem=f"step {k} comes before a step it uses", hint_key=f"early_{k}",
                                   hint=self.why[k])
        return CheckResult(self.name, "passed", cases_run=1)
