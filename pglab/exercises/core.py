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
message and the input. A function that *returns* something the check cannot use (a float where a tensor is
expected, e.g. after ``.item()``) is told what it returned — never "your code raised an error", since it ran
to its ``return``. :func:`require` raises :class:`Feedback` (its message is the same text) for
otter-grader's test cells.

The student's function is called with *positional* arguments, in the order of the exercise's
signature (the reference's parameters, :attr:`Exercise.parameters`): ``def gae(r, v, mask, gamma, lam)``
is as right as the exercise's own names. A function with the wrong number of parameters is told to
keep the signature, e.g. ``gae(rewards, values, mask, gamma, lam)``, instead of seeing a TypeError.

A :class:`ChoiceQuestion` is a short answer ("predict, then measure"): a letter, checked against
the answer, with an explanation for each wrong letter. ``measured=False`` marks a question answered
by reasoning: its feedback points at ``reconsider`` (an equation, an argument), not at a measurement.
A letter is read as students write it: ``"B"``, ``" b "``, ``"B."``, ``"(B)"``, ``"b)"`` (:func:`read_letter`).
:class:`pglab.exercises.order.OrderQuestion` asks for the steps of a proof in order.

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
import inspect
import numbers
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .compare import _block, _fmt, _indent, as_tensor, compare_fields, compare_tensors, shape_hint  # noqa: F401

DIFFICULTIES = ("easy", "medium", "hard")
DEFAULT_SEEDS = (0, 1, 2)
"""Seeds of the public check; the hidden otter test uses :data:`HIDDEN_SEEDS`."""
HIDDEN_SEEDS = (101, 102, 103, 104)
NO_MATCH_HINT = ("none of the usual mistakes explains this output: compare expected and got entry by entry "
                 "on this small input, working it out by hand.")
QUOTES = "'\"‘’“”`"
"""A message must not end with one of these: otter 7 shows ``str(exception).strip("'")``."""


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


def clone_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Fresh copies of the tensors (leaves keep ``requires_grad``): the check compares them with the originals
    afterwards, to tell a student whose function modified its inputs in place (:func:`changed_input`)."""
    out = {}
    for k, v in inputs.items():
        if isinstance(v, torch.Tensor):
            out[k] = v.detach().clone().requires_grad_(v.requires_grad)
        elif isinstance(v, list):
            out[k] = list(v)
        else:
            out[k] = v
    return out


IN_PLACE_HINT = ("compute new tensors (`x = {name} * mask`), don't overwrite the argument (`{name} *= mask`, "
                 "`{name}[...] = …`, `.add_()`, …): the caller's `{name}` — in training, the rollout's tensor, used "
                 "again later — would change under it. Call `.clone()` first if you want in-place updates.")


def changed_input(original: dict[str, Any], passed: dict[str, Any]) -> str | None:
    """The first input the student's function modified in place (``passed`` are the copies it got), or None."""
    for k, v in original.items():
        w = passed.get(k)
        if isinstance(v, torch.Tensor):
            if not isinstance(w, torch.Tensor) or w.shape != v.shape or not torch.equal(w.detach(), v.detach()):
                return k
        elif isinstance(v, list) and w != v:
            return k
    return None


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


class WrongSignature(Exception):
    """The student's function cannot take the exercise's arguments (too few or too many parameters)."""


def positional(fn: Callable[..., Any], parameters: Sequence[str]) -> Callable[..., Any]:
    """``fn`` made callable with the exercise's keyword inputs, passing them *positionally* in ``parameters`` order.

    The student's own parameter names (``def leave_one_out(returns, mask, K)``) and positional-only
    parameters are fine. A function that takes only keywords (``**kw``, keyword-only parameters) gets
    them by name. One that fits neither raises :class:`WrongSignature`.

    >>> f = positional(lambda r, m, K, /: (r, m, K), ["returns", "mask", "group_size"])
    >>> f(group_size=2, returns=1, mask=0)
    (1, 0, 2)
    """
    order = tuple(parameters)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):      # a builtin without a signature: try positionally
        return lambda **kw: fn(*(kw[p] for p in order))
    try:
        sig.bind(*order)
        return lambda **kw: fn(*(kw[p] for p in order))
    except TypeError:
        pass
    try:
        sig.bind(**{p: None for p in order})
        return lambda **kw: fn(**{p: kw[p] for p in order})
    except TypeError:
        raise WrongSignature(str(sig)) from None


def default_observe(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    return call(fn, inputs)


def is_number(x: Any) -> bool:
    """A Python or NumPy scalar (``0.25``, ``np.float64(0.25)``, ``3``), not a tensor or an array."""
    return isinstance(x, numbers.Number) and not isinstance(x, torch.Tensor)


def numbers_for_tensors(expected: Any, got: Any) -> bool:
    """``got`` holds a plain number where ``expected`` holds a tensor (itself, or a field of a dict observation)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return any(isinstance(v, torch.Tensor) and is_number(got.get(k)) for k, v in expected.items())
    return isinstance(expected, torch.Tensor) and is_number(got)


RETURNED_NUMBER_HINT = ("keep the result a torch tensor, computed with torch operations: no .item(), float(), "
                        "int() or .tolist() on the way (a float has no shape and no gradient).")


def unusable_output(out: Any, error: str) -> tuple[str, str, str]:
    """(problem, hint key, hint) for a returned value the check cannot use — said as *returned*, never as an error
    raised by the student's code (the function ran to its ``return``).

    >>> unusable_output(0.5, "")[:2]
    ('your function returned a float where a tensor is expected', 'returned_float')
    """
    kind = type(out).__name__
    if is_number(out):
        kind = "float" if isinstance(out, numbers.Real) and not isinstance(out, numbers.Integral) else kind
        return (f"your function returned a {kind} where a tensor is expected", "returned_float",
                RETURNED_NUMBER_HINT)
    if isinstance(out, (tuple, list)) and any(is_number(x) for x in out):
        return (f"your function returned a {kind} holding a float where tensors are expected", "returned_float",
                RETURNED_NUMBER_HINT)
    return (f"your function returned a {kind} that the check could not use ({error})", "unusable_output",
            "return what the exercise asks for (its type and shape are stated above the function): "
            "compare your `return` line with it.")


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
    partial: bool = False
    """The hint comes from a symptom that may explain only part of the difference (a second mistake is possible)."""

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
        if self.status == "failed" and not self.case and not self.inputs and self.got is None:
            lines = [f"❌ {self.name}: {self.problem}"]          # no input to show: the signature, not a function
        else:
            what = "wrong answer" if self.status == "failed" else "your code raised an error"
            lines = [f"❌ {self.name}: {what}" + (f" on input {self.case}" if self.case else "")]
        if self.case or self.inputs or self.got is not None or self.status == "error":
            for k, v in self.inputs.items():
                lines.append(f"    {k} = {_indent(_fmt(v), ' ' * (7 + len(k)))}")
            if self.status == "error":
                lines.append(f"  error:    {self.message}")
            else:
                lines.extend(_block("expected:", self.expected))
                lines.extend(_block("got:", self.got))
                lines.append(f"  problem:  {self.problem}")
        if self.hint:
            lines.append(f"  hint:     " + ("one problem (maybe not the only one): " if self.partial else "")
                         + self.hint)
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
