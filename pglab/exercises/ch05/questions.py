"""Exercises 5.5 and 5.6: the letter questions of chapter 05 — a prediction to measure, and a false step to find.

5.5 asks what happens to the variance of the advantages when λ goes from 1 to 0 with a critic fitted on the
source article's target r_t (worse than a constant): the chapter prints this critic's bias, not that variance,
so the prediction is open until the student measures it. 5.6 walks through the derivation of ∇J_γ (Eq. 5.6)
and asks which step is false: the one that drops γ^(t−1). Each wrong letter's explanation sends the student
back to the measurement or to a worked number, without giving the answer away.
"""
from __future__ import annotations

from ..choice import ChoiceQuestion


# ---------------------------------------------------------------------------------------------------------------
# 5.5 Predict, then measure: λ = 1 → 0 with a critic fitted on the article's target r_t (worse than a constant).
# Chapter 05 prints this critic's bias at λ = 0, not its variance against λ = 1: the prediction is open.

PREDICT = ChoiceQuestion(
    name="ch05_predict_lambda", chapter=5,
    title="Predict, then measure: λ = 1 → 0 with a critic fitted on the article's target",
    variable="answer_lambda", minutes=4, difficulty="medium",
    choices={"A": "the variance goes up: the critic is worse than a constant, so trusting it adds noise",
             "B": "the variance goes down clearly, by a third or more",
             "C": "about the same (within 10 %)"},
    answer="B",
    explanations={
        "A": "look at the measured ratio: a bad critic adds *bias* (chapter 05 §4 measured about twice the "
             "fitted critic's), not noise. What does λ = 0 replace the sum of all future rewards by?",
        "C": "look at the measured ratio again. At λ = 0 the weight of a token is r_t + V(s_{t+1}) − V(s_t): one "
             "reward and two smooth outputs of the critic, instead of the sum of every reward still to come.",
    },
)


# ---------------------------------------------------------------------------------------------------------------
# 5.6 Choose the false step: deriving ∇J_γ (Eq. 5.6), where γ^(t−1) goes.

PROOF = ChoiceQuestion(
    name="ch05_false_step", chapter=5, title="Choose the false step: where γ^(t−1) goes",
    variable="answer_false_step", minutes=3, difficulty="medium",
    choices={"A": "∇J_γ = E[(Σ_k γ^(k−1) r_k) · Σ_t ∇log π(a_t|s_t)]  (log-derivative trick on the whole trajectory)",
             "B": "for k < t, E[γ^(k−1) r_k ∇log π(a_t|s_t)] = 0  (a_t cannot change an earlier reward)",
             "C": "so ∇J_γ = E[Σ_t ∇log π(a_t|s_t) Σ_{k≥t} γ^(k−1) r_k]",
             "D": "Σ_{k≥t} γ^(k−1) r_k = Σ_{k≥t} γ^(k−t) r_k = G_t, so ∇J_γ = E[Σ_t ∇log π(a_t|s_t) G_t]"},
    answer="D", measured=False,
    reconsider="write out each step for t = 2 and γ = 0.5: which equality fails?",
    wrong_means="is a valid step",
    explanations={
        "A": "J_γ = E[Σ_k γ^(k−1) r_k] is an expectation over trajectories, and ∇log p_θ(τ) = Σ_t ∇log π(a_t|s_t) "
             "(chapter 02): this is the log-derivative trick, sound for any fixed weights on the rewards. "
             "Check the algebra of the later steps with numbers.",
        "B": "causality: r_k for k < t is fixed before a_t is drawn, so conditioned on the past E[∇log π(a_t|s_t)] = 0 "
             "(Eq. 2.4). Sound — it is the reward-to-go argument of chapter 03, unchanged by the constant γ^(k−1). "
             "Check the algebra of the later steps with numbers.",
        "C": "this only drops the terms that step B showed are zero and regroups the double sum by t: sound. "
             "Try the next step with t = 2, γ = 0.5 and a single reward r_2 = 1.",
    },
)
