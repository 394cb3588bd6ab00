"""Classroom exercises, the checks themselves: every reference passes, cases are random and varied, the letters
and the known wrong answers (tests/fixtures/exercises/wrong_chNN.py) are caught with their intended hint, and a
student's own parameter names pass while a wrong signature is told to keep the signature.

The rest: the feedback's wording (test_exercises_feedback.py), the references by independent routes
(test_exercises_references.py), the notebooks (test_exercises_notebooks.py), grading a class (test_grade.py)."""
from __future__ import annotations

import re

import pytest
import torch

from pglab.exercises import EXERCISES, Exercise, check
from tests.exercise_fixtures import CHOICES, FUNCTIONS, WRONG, renamed

# ---------------------------------------------------------------------------------------------------------------
# 1. reference solutions

@pytest.mark.parametrize("ex", FUNCTIONS, ids=lambda e: e.name)
def test_reference_passes_on_several_seeds(ex):
    result = check(ex, ex.reference, seeds=range(6))
    assert result.passed, str(result)
    assert result.cases_run >= 12


@pytest.mark.parametrize("ex", FUNCTIONS, ids=lambda e: e.name)
def test_cases_are_random_and_varied(ex):
    """Inputs change with the seed and come in several shapes: nothing to hard-code."""
    def shapes(seed):
        return [tuple(tuple(v.shape) for v in c.inputs.values() if isinstance(v, torch.Tensor))
                for c in ex.cases(seed)]
    assert len(set(shapes(0))) >= 3, "a seed's cases must come in at least 3 shapes"
    a, b = ex.cases(0), ex.cases(1)
    differs = any(not torch.equal(x, y) if x.shape == y.shape else True
                  for ca, cb in zip(a, b) for x, y in zip(ca.inputs.values(), cb.inputs.values())
                  if isinstance(x, torch.Tensor))
    assert differs, "seed 0 and seed 1 give the same inputs"
    again = ex.cases(0)
    for c1, c2 in zip(a, again):
        for x, y in zip(c1.inputs.values(), c2.inputs.values()):
            assert not isinstance(x, torch.Tensor) or torch.equal(x, y), "cases(seed) must be reproducible"


@pytest.mark.parametrize("q", CHOICES, ids=lambda e: e.name)
def test_choice_questions(q):
    assert check(q, q.answer).passed
    assert check(q, q.answer.lower()).passed
    assert check(q, ...).status == "not implemented"
    for letter in q.choices:
        if letter != q.answer:
            r = check(q, letter)
            assert r.status == "failed" and r.hint_key == f"choice_{letter}" and r.hint == q.explanations[letter]
            assert q.answer not in re.findall(r"\b[A-Z]\b", str(r).split("hint:")[0].replace(letter, "")), \
                "the feedback on a wrong letter must not reveal the answer"
    assert check(q, "Z").hint_key == "invalid"


@pytest.mark.parametrize("q", CHOICES, ids=lambda e: e.name)
def test_a_letter_is_read_as_students_write_it(q):
    """Issue 19: "B." scored 0. A letter with a period, in parentheses, with a closing parenthesis or spaces is
    that letter; a longer text is not one letter."""
    wrong = next(letter for letter in q.choices if letter != q.answer)
    for form in ("{}.", "({})", "{})", " {} ", "[{}]", "{}:"):
        for letter in (q.answer, q.answer.lower()):
            assert check(q, form.format(letter)).passed, form.format(letter)
        r = check(q, form.format(wrong))
        assert r.hint_key == f"choice_{wrong}" and r.got == wrong, form.format(wrong)
    assert check(q, f"{q.answer}. because").hint_key == "invalid"
    assert check(q, f"({q.answer}{wrong})").hint_key == "invalid"


def _returns_float(ex):
    """A correct answer that ends with .item() / float(): one number where a tensor (or a pair) is expected."""
    def fn(*args):
        out = ex.reference(*args)
        if isinstance(out, (tuple, list)):
            return tuple(float(o.detach().sum()) for o in out)
        return float(out.detach().sum())
    return fn


@pytest.mark.parametrize("ex", [e for e in FUNCTIONS if isinstance(e.reference(**e.cases(0)[0].inputs),
                                                                      (torch.Tensor, tuple))], ids=lambda e: e.name)
def test_a_returned_float_is_told_returned_a_float_never_an_error(ex):
    """Issue 19: a function that *returns* a float where a tensor is expected is told so, not "your code raised an
    error" (the a2c exercise's check used to raise inside the check on the student's float)."""
    result = check(ex, _returns_float(ex))
    text = str(result)
    assert result.status == "failed", text
    assert "your code raised an error" not in text and "Error" not in text.split("hint:")[0].split("problem:")[0]
    if result.hint_key not in ("not_a_tensor", "no_grad"):          # an exercise's own words for it are fine
        assert result.hint_key == "returned_float" and "returned a" in result.problem and "float" in result.problem, text


def test_an_error_raised_after_the_function_returned_is_not_the_students_exception():
    from pglab.exercises.core import Case, WrongOutput  # noqa: F401

    def observe(fn, inputs):
        out = fn(**inputs)
        return out.exp()                                   # the check uses the output; a list has no .exp()
    ex = Exercise(name="ch00_o", chapter=0, title="t", function="f", minutes=1, difficulty="easy",
                  reference=lambda x: x, cases=lambda seed: [Case("x", {"x": torch.ones(2)})], observe=observe)
    result = check(ex, lambda x: [1.0, 1.0])
    assert result.status == "failed" and result.hint_key == "returned_float" and "returned a list" in result.problem
    result = check(ex, lambda x: "ab")
    assert result.status == "failed" and result.hint_key == "unusable_output" and "AttributeError" in result.problem
    assert check(ex, lambda x: x.foo()).status == "error"   # raised inside the student's function: an error


def test_every_exercise_states_minutes_and_difficulty_and_chapters_take_20_to_40_minutes():
    by_chapter: dict[int, int] = {}
    for ex in EXERCISES.values():
        assert ex.difficulty in ("easy", "medium", "hard") and 1 <= ex.minutes <= 60
        by_chapter[ex.chapter] = by_chapter.get(ex.chapter, 0) + ex.minutes
    for chapter, minutes in by_chapter.items():
        assert 20 <= minutes <= 40, f"chapter {chapter:02d} exercises take {minutes} min"


# ---------------------------------------------------------------------------------------------------------------
# 2. the known wrong answers

def test_fixtures_cover_every_function_exercise():
    covered = {name for name, _, _ in WRONG}
    assert {ex.name for ex in FUNCTIONS} <= covered, "every exercise needs wrong-answer fixtures"


@pytest.mark.parametrize("name, hint, fn", WRONG, ids=[f"{n}-{h}-{f.__name__}" for n, h, f in WRONG])
def test_wrong_answer_is_rejected_with_its_hint(name, hint, fn):
    result = check(name, fn)
    assert result.status == "failed", str(result)
    assert result.hint_key == hint, f"expected hint {hint!r}, got {result.hint_key!r}:\n{result}"
    text = str(result)
    for part in ("expected:", "got:", "hint:", result.case):
        assert part in text


# ---------------------------------------------------------------------------------------------------------------
# the student's own parameter names, positional-only parameters, the wrong number of parameters

@pytest.mark.parametrize("ex", FUNCTIONS, ids=lambda e: e.name)
def test_own_parameter_names_and_positional_only_parameters_pass(ex):
    n = len(ex.parameters)
    assert check(ex, renamed(ex, [f"x{i}" for i in range(n)])).passed
    assert check(ex, renamed(ex, [f"x{i}" for i in range(n)], positional_only=True)).passed


def test_the_reviewers_renamed_solutions_pass():
    from pglab.exercises import ch04, ch05

    def leave_one_out(returns, mask, K):              # the exercise's own notation, K for the group size
        return ch04.leave_one_out(returns, mask, K)

    def gae(r, v, mask, gamma, lam):
        return ch05.gae(r, v, mask, gamma, lam)
    assert check("ch04_leave_one_out", leave_one_out).passed
    assert check("ch05_gae", gae).passed


@pytest.mark.parametrize("ex", FUNCTIONS, ids=lambda e: e.name)
def test_the_wrong_number_of_parameters_is_told_to_keep_the_signature(ex):
    n = len(ex.parameters)
    for fn in (renamed(ex, [f"x{i}" for i in range(n - 1)]), _with_extra(ex, n)):
        result = check(ex, fn)
        text = str(result)
        assert result.status == "failed" and result.hint_key == "signature", text
        assert f"keep the signature `{ex.signature}`" in text and "TypeError" not in text, text
    assert ex.signature == f"{ex.function}({', '.join(ex.parameters)})"


def _with_extra(ex, n):
    ns = {"ref": ex.reference}
    names = [f"x{i}" for i in range(n)]
    exec(f"def {ex.function}({', '.join(names)}, extra):\n    return ref({', '.join(names)})", ns)
    return ns[ex.function]


def test_an_extra_parameter_with_a_default_and_keyword_only_functions_are_fine():
    ex = EXERCISES["ch02_reward_to_go"]
    assert check(ex, lambda rewards, mask, gamma, debug=False: ex.reference(rewards, mask, gamma)).passed
    assert check(ex, lambda **kw: ex.reference(**kw)).passed                 # takes keywords only: by name
    assert check(ex, lambda *args: ex.reference(*args)).passed


def test_a_typeerror_inside_the_function_is_still_reported_as_the_students_error():
    def reward_to_go(rewards, mask, gamma):
        return rewards + "1"
    result = check("ch02_reward_to_go", reward_to_go)
    assert result.status == "error" and result.message.startswith("TypeError") and result.hint_key is None

