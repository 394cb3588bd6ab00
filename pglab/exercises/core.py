"""The machinery behind the classroom exercises: exercises, checks, and feedback that teaches.

An :class:`Exercise` is a small function the student writes (``reward_to_go(rewards, mask, gamma)``),
a reference solution, a generator of *random* inputs (``cases(seed)``: varied batch sizes, lengths
and masks, so no fixed example can be hard-coded), a comparison, and a list of :class:`Diagnosis`
objects: recognisers of the known wrong answers that turn a mismatch into a hint.

A diagnosis looks only at behaviour, never at the student's code: either the output equals what a
known mistake produces on the same input (:func:`mistake`), or a predicate on (inputs, got, expected)
holds (:func:`symptom`) — e.g. "got is exactly 1/T of expected on every row".

:func:`check` runs a student function on every case of several seeds and returns a
:class:`CheckResult`: passed, not yet implemented (the function is missing, returns ``None`` or
``...``, or raises ``NotImplementedError``), or the first failing case with expected vs got and
the hint. It never raises: a student function that raises is reported with the exception's one-line
message and the input. :func:`require` raises :class:`Feedback` (its message is the same text) for
otter-grader's test cells.

A :class:`ChoiceQuestion` is a short answer ("predict, then measure"): a letter, checked against
the answer, with an explanation for each wrong letter.

>>> ex = Exercise(name="ch00_double", chapter=0, title="Double a tensor", function="double",
...               minutes=1, difficulty="easy", reference=lambda x: 2 * x,
...               cases=lambda seed: [Case("x = [1., 2.]", {"x": torch.tensor([1., 2.])})],
...               diagnoses=[mistake("added", "you added 2 instead of multiplying", lambda x: x + 2)])
>>> check(ex, lambda x: 2 * x).passed
True
>>> check(ex, lambda x: x + 2).hint_key
'added'
>>> check(ex, lambda x: ...).status
'not implemented'
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

DIFFICULTIES = ("easy", "medium", "hard")
DEFAULT_SEEDS = (0, 1, 2)
"""Seeds of the public check; the hidden otter test uses :data:`HIDDEN_SEEDS`."""
HIDDEN_SEEDS = (101, 102, 103, 104)
NO_MATCH_HINT = ("none of the usual mistakes explains this output: compare expected and got entry by entry "
                 "on this small input, working it out by hand")


class Feedback(AssertionError):
    """Raised by :func:`require` when a check fails; its message is the teaching feedback."""


class NotImplementedYet(Exception):
    """The student function is still a stub (missing, returns None or ..., raises NotImplementedError)."""


class WrongOutput(Exception):
    """Raised by an ``observe`` hook for an output that cannot be compared (e.g. a loss without grad).

    The check reports it as a failure with this message as the problem and ``hint`` as the hint.
    """

    def __init__(self, problem: str, key: str | None = None, hint: str = "") -> None:
        super().__init__(problem)
        self.key, self.hint = key, hint


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


def mistake(key: str, hint: str, wrong: Callable[..., Any]) -> Diagnosis:
    """Matches when the student's output equals ``wrong``'s output on the same input."""
    return Diagnosis(key, hint, wrong=wrong)


def symptom(key: str, hint: str, test: Callable[[dict[str, Any], Any, Any], bool]) -> Diagnosis:
    """Matches when ``test(inputs, got, expected)`` is true (observations as the exercise defines them)."""
    return Diagnosis(key, hint, test=test)


def clone_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Fresh copies of the tensors (leaves keep ``requires_grad``), so a student's in-place edit harms nothing."""
    out = {}
    for k, v in inputs.items():
        if isinstance(v, torch.Tensor):
            out[k] = v.detach().clone().requires_grad_(v.requires_grad)
        elif isinstance(v, list):
            out[k] = list(v)
        else:
            out[k] = v
    return out


def call(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """Call a function on keyword inputs; a stub (None / ... / NotImplementedError) raises NotImplementedYet."""
    try:
        out = fn(**inputs)
    except NotImplementedError as exc:
        raise NotImplementedYet("it raises NotImplementedError") from exc
    if out is None:
        raise NotImplementedYet("it returns None — still the stub, or a missing `return`?")
    if out is Ellipsis:
        raise NotImplementedYet("it returns ... (the stub)")
    return out


def as_tensor(x: Any) -> torch.Tensor:
    """A student's output as a float64 tensor (tensors, numpy arrays, lists and numbers are accepted)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64).cpu()
    return torch.as_tensor(x, dtype=torch.float64)


def compare_tensors(expected: Any, got: Any, *, rtol: float = 1e-4, atol: float = 1e-5) -> str | None:
    """``None`` when ``got`` matches ``expected`` (same shape, allclose), else what differs, in words."""
    try:
        g = as_tensor(got)
    except (TypeError, ValueError, RuntimeError):
        return f"expected a tensor of shape {tuple(as_tensor(expected).shape)}, got a {type(got).__name__}"
    e = as_tensor(expected)
    if g.shape != e.shape:
        return f"shape: expected {tuple(e.shape)}, got {tuple(g.shape)}"
    if not torch.isfinite(g).all():
        return "got contains NaN or inf"
    bad = ~torch.isclose(g, e, rtol=rtol, atol=atol)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in bad.nonzero()[0])
    where = f" at index {list(idx)}" if idx else ""
    return (f"{int(bad.sum())} of {e.numel()} values differ; first{where}: "
            f"expected {e[idx].item():.4g}, got {g[idx].item():.4g}")


def compare_fields(expected: dict[str, Any], got: dict[str, Any], *, rtol: float = 1e-4,
                   atol: float = 1e-5) -> str | None:
    """Compare dict observations field by field (e.g. a loss and its gradients); name the first that differs."""
    for key, e in expected.items():
        problem = compare_tensors(e, got[key], rtol=rtol, atol=atol)
        if problem is not None:
            return f"{key.replace('_', ' ')}: {problem}"
    return None


def default_observe(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    return call(fn, inputs)


def _fmt(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            t = x.detach().cpu()
            if t.is_floating_point():
                t = t.to(torch.float64)
            old = torch._tensor_str.PRINT_OPTS.precision
            torch.set_printoptions(precision=3)
            try:
                s = repr(t).replace(", dtype=torch.float64", "")
            finally:
                torch.set_printoptions(precision=old)
            return s
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in x.items()) + "}"
    if isinstance(x, float):
        return f"{x:.4g}"
    if isinstance(x, (list, tuple)) and len(x) > 8:
        return repr(list(x[:8]))[:-1] + ", …]"
    return repr(x)


def _indent(s: str, pad: str = "      ") -> str:
    return s.replace("\n", "\n" + pad)


def _block(label: str, x: Any) -> list[str]:
    """``expected:``/``got:`` lines; a dict observation (a loss and its gradients) gets one line per field."""
    head = f"  {label:<10}"
    if not isinstance(x, dict):
        return [head + _indent(_fmt(x), " " * len(head))]
    lines = []
    for i, (k, v) in enumerate(x.items()):
        prefix = (head if i == 0 else " " * len(head)) + f"{k} = "
        lines.append(prefix + _indent(_fmt(v), " " * len(prefix)))
    return lines


@dataclass
class CheckResult:
    """What :func:`check` found. ``status`` is one of 'passed', 'not implemented', 'failed', 'error'."""
    name: str
    status: str
    message: str = ""
    case: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    expected: Any = None
    got: Any = None
    problem: str = ""
    hint_key: str | None = None
    hint: str = ""
    cases_run: int = 0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.status == "passed":
            return f"✅ {self.name}: passed on all {self.cases_run} random inputs."
        if self.status == "not implemented":
            return f"⏳ {self.name}: not yet implemented — {self.message}"
        lines = [f"❌ {self.name}: " + ("wrong answer" if self.status == "failed" else "your code raised an error")
                 + f" on input {self.case}"]
        for k, v in self.inputs.items():
            lines.append(f"    {k} = {_indent(_fmt(v), ' ' * (7 + len(k)))}")
        if self.status == "error":
            lines.append(f"  error:    {self.message}")
        else:
            lines.extend(_block("expected:", self.expected))
            lines.extend(_block("got:", self.got))
            lines.append(f"  problem:  {self.problem}")
        if self.hint:
            lines.append(f"  hint:     {self.hint}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        color = {"passed": "#1a7f37", "not implemented": "#9a6700"}.get(self.status, "#cf222e")
        return f"<pre style='color:{color}; white-space:pre-wrap'>{html.escape(str(self))}</pre>"


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
    kind: str = "function"

    def __post_init__(self) -> None:
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {self.difficulty!r}")
        if not (isinstance(self.minutes, int) and 1 <= self.minutes <= 60):
            raise ValueError(f"minutes must be an integer in [1, 60], got {self.minutes!r}")

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
                               problem=f"`{self.function}` is a {type(fn).__name__}, not a function")
        n = 0
        for seed in (self.seeds if seeds is None else seeds):
            for case in self.cases(seed):
                label = f"{case.label} (seed {seed})"
                expected = self.observe(self.reference, clone_inputs(case.inputs))
                try:
                    got = self.observe(fn, clone_inputs(case.inputs))
                except NotImplementedYet as exc:
                    return CheckResult(self.name, "not implemented", f"`{self.function}`: {exc}")
                except WrongOutput as exc:
                    return CheckResult(self.name, "failed", "", label, case.inputs, expected, "(see problem)",
                                       str(exc), exc.key, exc.hint or NO_MATCH_HINT, n + 1)
                except Exception as exc:   # the student's bug: one line, with the input, no traceback
                    first = (str(exc).strip().splitlines() or [""])[0]
                    return CheckResult(self.name, "error", f"{type(exc).__name__}: {first}", label,
                                       case.inputs, cases_run=n)
                problem = self.compare(expected, got)
                n += 1
                if problem is not None:
                    d = self.diagnose(case.inputs, got, expected)
                    return CheckResult(self.name, "failed", "", label, case.inputs, expected, got, problem,
                                       d.key if d else None, d.hint if d else NO_MATCH_HINT, n)
        return CheckResult(self.name, "passed", cases_run=n)


@dataclass
class ChoiceQuestion:
    """A short answer: one letter, e.g. a prediction checked by a measurement cell.

    ``explanations[letter]`` is the hint shown for a wrong letter (it should point at the
    measurement, not give the answer away).
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
    kind: str = "choice"

    def __post_init__(self) -> None:
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {self.difficulty!r}")
        if self.answer not in self.choices:
            raise ValueError(f"answer {self.answer!r} is not one of the choices {sorted(self.choices)}")
        missing = set(self.choices) - {self.answer} - set(self.explanations)
        if missing:
            raise ValueError(f"{self.name}: explanations missing for wrong choices {sorted(missing)}")

    def check(self, value: Any, seeds: Iterable[int] | None = None) -> CheckResult:
        if value is None or value is Ellipsis or (isinstance(value, str) and not value.strip()):
            return CheckResult(self.name, "not implemented", f"set `{self.variable}` to one of "
                               f"{', '.join(repr(c) for c in self.choices)}")
        letter = value.strip().upper() if isinstance(value, str) else value
        if letter not in self.choices:
            return CheckResult(self.name, "failed", case="your answer", got=value,
                               expected=f"one of {', '.join(self.choices)}",
                               problem=f"{value!r} is not one of the choices", hint_key="invalid",
                               hint=f"set `{self.variable}` to a single letter: {', '.join(self.choices)}")
        if letter != self.answer:
            return CheckResult(self.name, "failed", case="your answer", got=letter,
                               expected="(not shown: run the measurement and reconsider)",
                               problem=f"{letter} ({self.choices[letter]}) is not what the measurement shows",
                               hint_key=f"choice_{letter}", hint=self.explanations[letter])
        return CheckResult(self.name, "passed", cases_run=1)


AnyExercise = Exercise | ChoiceQuestion


def check(exercise: AnyExercise | str, student: Any, seeds: Iterable[int] | None = None) -> CheckResult:
    """Check a student function (or, for a :class:`ChoiceQuestion`, a letter). Never raises for the student's bug."""
    if isinstance(exercise, str):
        from . import EXERCISES
        if exercise not in EXERCISES:
            raise KeyError(f"unknown exercise {exercise!r}; known: {', '.join(sorted(EXERCISES))}")
        exercise = EXERCISES[exercise]
    return exercise.check(student, seeds)


def require(exercise: AnyExercise | str, student: Any, seeds: Iterable[int] | None = None) -> CheckResult:
    """Like :func:`check`, but raise :class:`Feedback` (message = the feedback text) unless it passed.

    This is what otter-grader's test cells call: otter shows the exception's message to the student
    (with ``<``/``>`` made HTML-safe, see :func:`html_safe`).
    """
    result = check(exercise, student, seeds)
    if not result.passed:
        raise Feedback("\n" + html_safe(str(result)))
    return result


def html_safe(text: str) -> str:
    """otter shows a failing test's message raw inside an HTML ``<pre>``: a literal ``<eos>`` would vanish
    as an unknown tag. Tag-like brackets become ‹ › (readable in the HTML and in the plain-text report);
    a ``<`` that starts no tag (``γ < 1``) stays.

    >>> html_safe("G_t is 0 after <eos> when γ < 1, and <x")
    'G_t is 0 after ‹eos› when γ < 1, and ‹x'
    """
    text = re.sub(r"<(/?[A-Za-z!?][^<>]*)>", r"‹\1›", text)
    return re.sub(r"<(?=[A-Za-z/!?])", "‹", text)
