"""The function exercise: the student writes a small function; random cases, a reference and diagnoses check it.

An :class:`Exercise` is a small function the student writes (``reward_to_go(rewards, mask, gamma)``),
a reference solution, a generator of *random* inputs (``cases(seed)``: varied batch sizes, lengths
and masks, so no fixed example can be hard-coded), a comparison, and a list of :class:`Diagnosis`
objects: recognisers of the known wrong answers that turn a mismatch into a hint.

A diagnosis looks only at behaviour, never at the student's code: either the output equals what a
known mistake produces on the same input (:func:`mistake`), or a predicate on (inputs, got, expected)
holds (:func:`symptom`) — e.g. "got is exactly 1/T of expected on every row".

:meth:`Exercise.check` runs a student function on every case of several seeds and returns a
:class:`~pglab.exercises.result.CheckResult`: passed, not yet implemented (the function is missing, returns
``None`` or ``...``, or raises ``NotImplementedError``), or the first failing case with expected vs got and
the hint. It never raises: a student function that raises is reported with the exception's one-line
message and the input. A function that *returns* something the check cannot use (a float where a tensor is
expected, e.g. after ``.item()``) is told what it returned — never "your code raised an error", since it ran
to its ``return`` (how the function is called: :mod:`pglab.exercises.calling`).

The student's function is called with *positional* arguments, in the order of the exercise's
signature (the reference's parameters, :attr:`Exercise.parameters`): ``def gae(r, v, mask, gamma, lam)``
is as right as the exercise's own names. A function with the wrong number of parameters is told to
keep the signature, e.g. ``gae(rewards, values, mask, gamma, lam)``, instead of seeing a TypeError.

>>> ex = Exercise(name="ch00_double", chapter=0, title="Double a tensor", function="double",
...               minutes=1, difficulty="easy", reference=lambda x: 2 * x,
...               cases=lambda seed: [Case("x = [1., 2.]", {"x": torch.tensor([1., 2.])})],
...               diagnoses=[mistake("added", "you added 2 instead of multiplying", lambda x: x + 2)])
>>> ex.check(lambda x: 2 * x).passed
True
>>> ex.check(lambda x: x + 2).hint_key
'added'
>>> ex.check(lambda x: ...).status
'not implemented'
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch  # noqa: F401  (the doctest above builds its case with it)

from .calling import (IN_PLACE_HINT, NotImplementedYet, WrongOutput, WrongSignature, changed_input, clone_inputs,
                      default_observe, numbers_for_tensors, positional, unusable_output)
from .compare import compare_tensors, shape_hint
from .result import DIFFICULTIES, NO_MATCH_HINT, CheckResult

DEFAULT_SEEDS = (0, 1, 2)
"""Seeds of the public check; the hidden otter test uses :data:`HIDDEN_SEEDS`."""
HIDDEN_SEEDS = (101, 102, 103, 104)


@dataclass
class Case:
    """One input of a check. ``inputs`` are keyword arguments of the student's function."""
    label: str
    inputs: dict[str, Any]


@dataclass
class Diagnosis:
    """A recogniser of one known mistake, with the hint to show when it matches.

    Build it with :func:`mistake` (output equals a wrong implementation's) or :func:`symptom`
    (a predicate on ``(inputs, got, expected)``).
    """
    key: str
    hint: str
    wrong: Callable[..., Any] | None = None
    test: Callable[[dict[str, Any], Any, Any], bool] | None = None
    exact: bool = True
    """False for a symptom that may explain only part of a wrong output: the hint then says "one problem"."""


def mistake(key: str, hint: str, wrong: Callable[..., Any]) -> Diagnosis:
    """Matches when the student's output equals ``wrong``'s output on the same input."""
    return Diagnosis(key, hint, wrong=wrong)


def symptom(key: str, hint: str, test: Callable[[dict[str, Any], Any, Any], bool], *, exact: bool = False) -> Diagnosis:
    """Matches when ``test(inputs, got, expected)`` is true (observations as the exercise defines them).

    A symptom (NaN somewhere, a sign flipped on one field) may be one of two mistakes in the output, so its
    hint is introduced as "one problem"; ``exact=True`` when the test pins the whole output down.
    """
    return Diagnosis(key, hint, test=test, exact=exact)


@dataclass
class Exercise:
    """A function the student writes, with its reference, random cases, comparison and diagnoses.

    ``observe(fn, inputs)`` turns a call into what is compared (default: the return value; the loss
    exercises observe the value *and* its gradients). ``compare(expected, got)`` returns ``None`` when
    they agree, else a one-line description of the difference.
    """
    name: str
    chapter: int
    title: str
    function: str
    minutes: int
    difficulty: str
    reference: Callable[..., Any]
    cases: Callable[[int], list[Case]]
    diagnoses: list[Diagnosis] = field(default_factory=list)
    compare: Callable[[Any, Any], str | None] = compare_tensors
    observe: Callable[[Callable[..., Any], dict[str, Any]], Any] = default_observe
    seeds: Sequence[int] = DEFAULT_SEEDS
    parameters: Sequence[str] | None = None
    """The student's function's parameters, in order (default: the reference's). Arguments are passed positionally."""
    shape: str | None = None
    """The output's dimensions in the chapter's notation, e.g. ``"(B, T)"``: named in the built-in shape hint."""
    shape_means: str = ""
    """What the shape holds, e.g. ``"one value per sample (row) and step (column)"`` (shape hint)."""
    kind: str = "function"

    def __post_init__(self) -> None:
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {self.difficulty!r}")
        if not (isinstance(self.minutes, int) and 1 <= self.minutes <= 60):
            raise ValueError(f"minutes must be an integer in [1, 60], got {self.minutes!r}")
        if self.parameters is None:
            self.parameters = tuple(inspect.signature(self.reference).parameters)
        self.parameters = tuple(self.parameters)

    @property
    def signature(self) -> str:
        """The function the exercise asks for, e.g. ``reward_to_go(rewards, mask, gamma)``."""
        return f"{self.function}({', '.join(self.parameters)})"

    def diagnose(self, inputs: dict[str, Any], got: Any, expected: Any) -> Diagnosis | None:
        """The first diagnosis that explains ``got`` on ``inputs``, or ``None``."""
        for d in self.diagnoses:
            try:
                if d.wrong is not None:
                    wrong = self.observe(d.wrong, clone_inputs(inputs))
                    if self.compare(wrong, got) is None:
                        return d
                elif d.test is not None and d.test(inputs, got, expected):
                    return d
            except Exception:   # a recogniser that cannot judge this output does not match
                continue
        return None

    def check(self, fn: Any, seeds: Iterable[int] | None = None) -> CheckResult:
        """Run ``fn`` on every case of every seed; stop at the first failure (see :class:`CheckResult`)."""
        if fn is None or fn is Ellipsis:
            return CheckResult(self.name, "not implemented",
                               f"`{self.function}` is not defined: run the cell that defines it "
                               "(if that cell raised an error, fix it first)")
        if not callable(fn):
            return CheckResult(self.name, "failed", f"`{self.function}` must be a function, got {type(fn).__name__}",
                               problem=f"`{self.function}` is not a function (it is of type {type(fn).__name__})",
                               hint_key="not_a_function", hint=f"define it as a function: def {self.signature}:")
        try:
            student = positional(fn, self.parameters)
        except WrongSignature as exc:
            return CheckResult(self.name, "failed", f"keep the signature `{self.signature}`",
                               problem=f"keep the signature `{self.signature}`: yours is `{self.function}{exc}`, "
                                       f"and the check passes {len(self.parameters)} arguments, in this order.",
                               hint_key="signature",
                               hint="any parameter names work, but their number and order are the exercise's.")
        n = 0
        for seed in (self.seeds if seeds is None else seeds):
            for case in self.cases(seed):
                label = f"{case.label} (seed {seed})"
                expected = self.observe(self.reference, clone_inputs(case.inputs))
                mine = clone_inputs(case.inputs)                      # the student's copies of the inputs
                returned: list[Any] = []                              # what the student's function returned

                def recorded(*args: Any, _fn: Callable[..., Any] = student, _box: list = returned, **kw: Any) -> Any:
                    out = _fn(*args, **kw)
                    _box.append(out)
                    return out
                try:
                    got = self.observe(recorded, mine)
                except NotImplementedYet as exc:
                    return CheckResult(self.name, "not implemented", f"`{self.function}`: {exc}")
                except WrongOutput as exc:
                    return CheckResult(self.name, "failed", "", label, case.inputs, expected, "(see problem)",
                                       str(exc), exc.key, exc.hint or NO_MATCH_HINT, n + 1)
                except Exception as exc:
                    first = (str(exc).strip().splitlines() or [""])[0]
                    if returned:    # the function returned; what it returned could not be used by the check
                        return CheckResult(self.name, "failed", "", label, case.inputs, expected, returned[-1],
                                           *unusable_output(returned[-1], f"{type(exc).__name__}: {first}"), n + 1)
                    # the student's bug: one line, with the input, no traceback
                    return CheckResult(self.name, "error", f"{type(exc).__name__}: {first}", label,
                                       case.inputs, cases_run=n)
                if numbers_for_tensors(expected, got) and self.compare(expected, got) is not None:
                    return CheckResult(self.name, "failed", "", label, case.inputs, expected, got,
                                       *unusable_output(returned[-1] if returned else got, ""), n + 1)
                problem = self.compare(expected, got)
                n += 1
                changed = changed_input(case.inputs, mine)
                if problem is None and changed is not None:          # right values, but the caller's input changed
                    return CheckResult(self.name, "failed", "", label, case.inputs, expected, got,
                                       f"your function changed its input `{changed}` in place", "in_place",
                                       IN_PLACE_HINT.format(name=changed), n)
                if problem is not None:
                    d = self.diagnose(case.inputs, got, expected)
                    if d is not None:
                        return CheckResult(self.name, "failed", "", label, case.inputs, expected, got, problem,
                                           d.key, d.hint, n, partial=not d.exact)
                    shape = shape_hint(expected, got, self.shape, self.shape_means)
                    return CheckResult(self.name, "failed", "", label, case.inputs, expected, got, problem,
                                       "shape" if shape else None, shape or NO_MATCH_HINT, n)
        return CheckResult(self.name, "passed", cases_run=n)
