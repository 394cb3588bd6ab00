"""Classroom exercises, the feedback a student reads: a stub says *not yet implemented*, an exception is one line
with its input, no message ends with a quote (otter strips it) or shows -0.000, a letter's feedback reads as an
answer, a wrong shape is named in the chapter's notation, a symptom says "one problem"."""
from __future__ import annotations

import re

import pytest
import torch

from pglab.exercises import EXERCISES, ChoiceQuestion, Exercise, Feedback, check, mistake, require, symptom
from tests.exercise_fixtures import CHOICES, FUNCTIONS, WRONG, renamed

# ---------------------------------------------------------------------------------------------------------------
# the feedback itself

EX = FUNCTIONS[0]


def test_stub_and_missing_function_say_not_yet_implemented():
    def returns_none(**kw):
        pass

    def ellipsis(**kw):
        ...
        return ...

    def raises(**kw):
        raise NotImplementedError

    for fn in (None, returns_none, ellipsis, raises):
        result = check(EX, fn)
        assert result.status == "not implemented" and "not yet implemented" in str(result)
        assert not result.passed


def test_an_exception_is_reported_in_one_line_with_its_input():
    def broken(**kw):
        raise IndexError("index 7 is out of bounds\n  a second line\nTraceback (most recent call last)")
    result = check(EX, broken)
    assert result.status == "error"
    assert result.message == "IndexError: index 7 is out of bounds"
    text = str(result)
    assert "Traceback" not in text and "second line" not in text and result.case in text
    assert all(k in text for k in EX.cases(0)[0].inputs)


def test_not_a_function_and_unknown_name():
    assert check(EX, 3).status == "failed"
    with pytest.raises(KeyError, match="unknown exercise"):
        check("ch99_nothing", lambda: 0)


def test_require_raises_feedback_with_the_hint_and_html_escapes():
    name, hint, fn = WRONG[0]
    with pytest.raises(Feedback) as info:
        require(name, fn)
    from pglab.exercises.core import html_safe
    assert html_safe(check(name, fn).hint) in str(info.value)
    assert isinstance(info.value, AssertionError)
    assert require(EXERCISES[name], EXERCISES[name].reference).passed
    html = check(name, fn)._repr_html_()
    assert html.startswith("<pre") and "<" not in html[5:-6].replace("<pre", "").replace("</pre", "")


def test_a_wrong_answer_that_matches_no_diagnosis_gets_the_generic_hint():
    ex = FUNCTIONS[0]

    def off(**kw):
        out = ex.reference(**kw)
        return out + 0.123 if isinstance(out, torch.Tensor) else out
    result = check(ex, off)
    if result.status == "failed":
        assert result.hint_key is None and "none of the usual mistakes" in result.hint


# ---------------------------------------------------------------------------------------------------------------
# what the feedback looks like: no trailing quote (otter strips it), no -0.000, choices, shapes, two mistakes

def _all_feedback():
    """A result of every kind for every exercise: fixtures, letters, stubs, errors, signatures, shapes."""
    for name, _, fn in WRONG:
        yield check(name, fn)
    for q in CHOICES:
        for value in (*q.choices, ..., "", "Z", 3):
            yield check(q, value)
    for ex in FUNCTIONS:
        yield check(ex, None)
        yield check(ex, 3)
        yield check(ex, lambda *a: 1 / 0)
        yield check(ex, renamed(ex, [f"x{i}" for i in range(len(ex.parameters) - 1)]))
        yield check(ex, lambda *a: torch.zeros(7, 1, 5))
        yield check(ex, lambda *a, ref=ex.reference: (lambda out: out + 0.37 if isinstance(out, torch.Tensor)
                                                      else out)(ref(*a)))           # no diagnosis matches


@pytest.fixture(scope="module")
def all_feedback() -> list[str]:
    """The text of every result of ``_all_feedback``, computed once for the tests that read them all."""
    return [str(r) for r in _all_feedback()]


def test_no_feedback_ends_with_a_quote(all_feedback):
    """otter 7 shows str(exception).strip("'"): "one of 'A', 'B', 'C'" would lose its last quote."""
    from pglab.exercises.core import NO_MATCH_HINT, QUOTES
    texts = list(all_feedback)
    texts += [d.hint for ex in FUNCTIONS for d in ex.diagnoses] + [h for q in CHOICES for h in q.explanations.values()]
    texts += [q.reconsider for q in CHOICES] + [q.wrong_means for q in CHOICES]
    assert any(NO_MATCH_HINT in t for t in texts)
    assert len(texts) > 200
    ending = [t[-60:] for t in texts if t.rstrip().endswith(tuple(QUOTES))]
    assert not ending, ending


def test_require_never_ends_its_message_with_a_quote():
    from pglab.exercises.core import Case
    ex = Exercise(name="ch00_q", chapter=0, title="t", function="f", minutes=1, difficulty="easy",
                  reference=lambda x: x, cases=lambda seed: [Case("x", {"x": torch.ones(2)})],
                  diagnoses=[mistake("twice", "you returned 'x + x'", lambda x: 2 * x)])
    with pytest.raises(Feedback) as info:
        require(ex, lambda x: 2 * x)
    assert str(info.value).endswith("'x + x'.") and str(check(ex, lambda x: 2 * x)).endswith("'x + x'")


def test_no_negative_zero_in_the_printed_values(all_feedback):
    from pglab.exercises.core import _fmt
    shown = _fmt(torch.tensor([[-0.0, -1e-9, 0.5], [-0.25, 1e-7, 0.0]]))
    assert "-0.000" not in shown and "0.000" in shown and "-0.250" in shown
    assert _fmt(-0.0) == "0" and _fmt(-0.5) == "-0.5"
    text = "\n".join(all_feedback)
    assert not re.search(r"-0\.0+(?![0-9])", text)


@pytest.mark.parametrize("q", CHOICES, ids=lambda e: e.name)
def test_choice_feedback_reads_as_an_answer_not_an_input(q):
    wrong = next(letter for letter in q.choices if letter != q.answer)
    text = str(check(q, wrong))
    assert "on input" not in text and "your answer" not in text.split("\n")[0]
    assert text.splitlines()[0] == f"❌ {q.name}: wrong answer" and f"got:      {wrong}" in text
    assert "'" not in text.splitlines()[1], "the expected line shows the text, not its repr"
    assert q.reconsider in text and q.wrong_means in text


def test_a_conceptual_question_points_at_the_argument_not_a_measurement():
    q = EXERCISES["ch04_which_biased"]
    assert type(q) is ChoiceQuestion and q.measured is False
    text = str(check(q, "A"))
    assert "measurement" not in text and "Eq. 4.1" in text and "keeps the estimator unbiased" in text
    measured = EXERCISES["ch02_predict_sparse"]
    assert measured.measured and "run the measurement and reconsider" in str(check(measured, "A"))
    kw = dict(name="ch00_c", chapter=0, title="t", variable="v", minutes=1, difficulty="easy",
              choices={"A": "a", "B": "b"}, answer="A", explanations={"B": "no"})
    assert "reread the chapter's argument" in str(ChoiceQuestion(**kw, measured=False).check("B"))
    with pytest.raises(ValueError, match="measured must be True or False"):
        ChoiceQuestion(**kw, measured="False")


@pytest.mark.parametrize("ex", [e for e in FUNCTIONS if e.shape], ids=lambda e: e.name)
def test_a_wrong_shape_is_named_in_the_chapters_notation(ex):
    """An output with an extra leading dimension: the hint names the expected shape (B, T) and the one returned."""
    result = check(ex, lambda *args: ex.reference(*args).unsqueeze(0))
    assert result.hint_key == "shape", str(result)
    assert f"return a {ex.shape} tensor" in result.hint and "(got (1, " in result.hint, result.hint


def test_the_built_in_shape_hint_without_names_and_after_the_diagnoses():
    from pglab.exercises.core import Case
    ex = Exercise(name="ch00_s", chapter=0, title="t", function="f", minutes=1, difficulty="easy",
                  reference=lambda x: x.sum(0), cases=lambda seed: [Case("x", {"x": torch.ones(2, 3)})],
                  diagnoses=[mistake("wrong_dim", "you summed over dim 1", lambda x: x.sum(1))])
    assert check(ex, lambda x: x.sum(1)).hint_key == "wrong_dim"                 # a diagnosis comes first
    result = check(ex, lambda x: x.sum(1, keepdim=True))
    assert result.hint_key == "shape" and "shape (3,)" in result.hint and "(got (2, 1))" in result.hint
    assert check(ex, lambda x: x.sum(0) + 1).hint_key is None                    # same shape: no shape hint


def test_a_symptom_is_one_problem_an_exact_mistake_is_the_problem():
    from pglab.exercises.core import Case
    ex = Exercise(name="ch00_m", chapter=0, title="t", function="f", minutes=1, difficulty="easy",
                  reference=lambda x: 2 * x, cases=lambda seed: [Case("x", {"x": torch.tensor([1., -2.])})],
                  diagnoses=[mistake("added", "you added 2", lambda x: x + 2),
                             symptom("sign", "a sign is flipped", lambda inputs, got, expected: bool((got < 0).any()
                                     != (expected < 0).any() or (got * expected < 0).any()))])
    exact = str(check(ex, lambda x: x + 2))
    assert "hint:     you added 2" in exact
    two_mistakes = check(ex, lambda x: -x - 1)                 # sign flipped and something else
    assert two_mistakes.hint_key == "sign"
    assert "hint:     one problem (maybe not the only one): a sign" in str(two_mistakes)

