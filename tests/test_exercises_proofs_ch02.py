"""Chapter 02's proof question (issue 17, item 13): find the false step in a "proof" that the batch-mean baseline
adds no bias. The wrong letters students type are rejected with a hint that explains the step they chose without
naming the false one, the answer key is checked against the mathematics by enumeration, and the question sits in
the master and student notebooks like every other question."""
from __future__ import annotations

import importlib.util
import itertools
import re
from pathlib import Path

import nbformat
import pytest
import torch

from pglab.exercises import EXERCISES, ChoiceQuestion, check
from pglab.exercises.build import MASTER_DIR, STUDENT_DIR

NAME = "ch02_proof_false_step"
FIXTURE = Path(__file__).parent / "fixtures" / "exercises" / "wrong_ch02.py"


def _wrong_letters() -> list[tuple[str, str, str]]:
    spec = importlib.util.spec_from_file_location("exercise_fixture_wrong_ch02_letters", FIXTURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG_LETTERS


WRONG_LETTERS = _wrong_letters()
Q = EXERCISES[NAME]


def test_it_is_a_conceptual_choice_question_of_chapter_02():
    assert isinstance(Q, ChoiceQuestion) and Q.chapter == 2 and not Q.measured
    assert set(Q.choices) == set("ABCDE") and Q.answer == "D"


@pytest.mark.parametrize("name, hint, answer", WRONG_LETTERS, ids=[f"{h}-{a.strip()}" for _, h, a in WRONG_LETTERS])
def test_a_wrong_answer_is_rejected_with_its_hint(name, hint, answer):
    result = check(name, answer)
    assert result.status == "failed" and result.hint_key == hint, str(result)
    if hint.startswith("choice_"):
        letter = hint[-1]
        assert result.hint == Q.explanations[letter]
        assert f"{letter} (step {letter}," in str(result) and "is a true step" in str(result)


def test_every_true_step_has_a_fixture():
    covered = {h[-1] for n, h, _ in WRONG_LETTERS if n == NAME and h.startswith("choice_")}
    assert covered == set(Q.choices) - {Q.answer}


@pytest.mark.parametrize("letter", [c for c in "ABCE"])
def test_the_hint_teaches_without_naming_the_false_step(letter):
    """The hint says why the chosen step holds (it cites the chapter or the rule it uses) and never names a step."""
    text = str(check(Q, letter))
    assert not re.search(r"\b[A-E]\b(?!\[)", text.split("hint:")[1]), "a hint must not name a step by its letter"
    assert not re.search(r"\bstep [A-E]\b", text.split("problem:")[0])
    hint = Q.explanations[letter]
    assert len(hint.split()) >= 25                                  # an explanation, not a verdict
    assert "?" in hint or "Eq. (2" in hint                          # a question to think on, or the equation to reread


def test_the_right_answer_passes_in_any_case():
    assert check(Q, "D").passed and check(Q, " d ").passed and check(Q, '"D"'.strip('"')).passed
    assert check(Q, ...).status == "not implemented"


# ---------------------------------------------------------------------------------------------------------------
# the answer key, against the mathematics: on a 3-armed bandit with batches of B = 2, listed exhaustively

def _bandit():
    theta = torch.tensor([0.5, -0.3, 0.1], dtype=torch.float64, requires_grad=True)
    r = torch.tensor([1.0, 0.0, 0.5], dtype=torch.float64)
    pi = theta.softmax(0)
    grad_J = torch.autograd.grad((pi * r).sum(), theta)[0]
    pi = pi.detach()
    return pi, r, torch.eye(3, dtype=torch.float64) - pi, grad_J          # score row a: ∇log π(a) = e_a − π


def test_the_claim_is_false_the_batch_mean_shrinks_the_gradient_by_1_minus_1_over_b():
    pi, r, score, grad_J = _bandit()
    for B in (2, 3):
        mean_g = torch.zeros(3, dtype=torch.float64)
        for batch in itertools.product(range(3), repeat=B):
            b = r[list(batch)].mean()
            mean_g += pi[list(batch)].prod() * sum((r[a] - b) * score[a] for a in batch) / B
        assert torch.allclose(mean_g, (1 - 1 / B) * grad_J, atol=1e-12)
        assert (mean_g - grad_J).norm() > 0.1 * grad_J.norm()


def test_steps_b_and_c_hold_and_step_d_fails():
    pi, r, score, grad_J = _bandit()
    expected_score = pi @ score                                                   # step C: E[∇log π] = 0
    assert expected_score.abs().max() < 1e-12
    joint = sum(pi[i] * pi[j] * r[j] * score[i] for i in range(3) for j in range(3))   # step B: independent pair
    assert torch.allclose(joint, (pi @ r) * expected_score, atol=1e-12)
    same = sum(pi[i] * r[i] * score[i] for i in range(3))                         # step D: the same sample twice
    assert torch.allclose(same, grad_J, atol=1e-12) and same.norm() > 0.1         # = ∇J (Eq. 2.1), not 0


def test_the_master_measurement_prints_the_shrinkage():
    from test_exercises_references import _run_measurements
    ns, out = _run_measurements(MASTER_DIR / "ch02_exercises.ipynb")
    assert torch.allclose(ns["mean_g"], (1 - 1 / ns["B"]) * ns["grad_J"], atol=1e-6)
    assert "E[ĝ] with the batch mean" in out


# ---------------------------------------------------------------------------------------------------------------
# the notebooks

def test_the_question_is_in_the_master_with_its_steps_and_in_the_student_notebook_without_the_answer():
    master = "\n".join(c.source for c in nbformat.read(MASTER_DIR / "ch02_exercises.ipynb", as_version=4).cells)
    student = "\n".join(c.source for c in nbformat.read(STUDENT_DIR / "ch02_exercises.ipynb", as_version=4).cells)
    for step in "ABCDE":
        assert f"* **{step}** —" in master and f"* **{step}** —" in student
    assert 'answer_false_step = "D"' in master and 'answer_false_step = "D"' not in student
    assert "grader.check(\"ch02_proof_false_step\")" in student or "ch02_proof_false_step" in student
