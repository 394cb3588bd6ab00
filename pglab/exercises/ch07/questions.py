"""Exercises 7.4 and 7.5: order the proof of Dr. GRPO's (K−1)/K, and predict PPO's loss while the reward rises.

7.4 lists the steps of the proof that E[A_i^Dr.GRPO ∇log π(o_i)] = (K−1)/K · ∇J, with one false step (the group
mean as a baseline: it contains R_i / K, which depends on o_i). Any order that puts each step after the steps it
uses is right (:class:`~pglab.exercises.order.OrderQuestion`). 7.5 asks how PPO's logged loss moves while the
reward rises, to be predicted and then read off the training run.
"""
from __future__ import annotations

from ..choice import ChoiceQuestion
from ..order import OrderQuestion


# ---------------------------------------------------------------------------------------------------------------
# 7.4 Order the proof: E[A_i^Dr.GRPO ∇log π(o_i)] = (K−1)/K · ∇J.

PROOF = OrderQuestion(
    name="ch07_proof_dr_grpo", chapter=7, title="Order the proof: Dr. GRPO's (K−1)/K", variable="proof_order",
    minutes=6, difficulty="medium",
    steps={"A": "Split the group mean: mean_j R_j = R_i / K + (K−1)/K · m₋ᵢ, with m₋ᵢ the mean of the other K − 1 "
                "returns.",
           "B": "So R_i − mean_j R_j = (K−1)/K · (R_i − m₋ᵢ) = (K−1)/K · A_i^RLOO.",
           "C": "m₋ᵢ depends only on the other completions, drawn independently of o_i, so "
                "E[m₋ᵢ ∇log π(o_i)] = E[m₋ᵢ] · E[∇log π(o_i)] = 0.",
           "D": "Hence E[A_i^RLOO ∇log π(o_i)] = E[R_i ∇log π(o_i)] = ∇J.",
           "E": "Therefore E[A_i^Dr.GRPO ∇log π(o_i)] = (K−1)/K · ∇J: ∇J's direction, shrunk by a constant.",
           "F": "The group mean mean_j R_j is a baseline, so E[mean_j R_j ∇log π(o_i)] = 0."},
    requires={"B": "A", "D": "C", "E": "BD"}, answer="ABCDE",
    why={"B": "B rewrites the Dr. GRPO advantage with the other samples' mean m₋ᵢ: it needs the split of the group "
              "mean into sample i's share and the others' first.",
         "D": "D drops m₋ᵢ from the expectation: that is allowed only once its score term is known to vanish.",
         "E": "E multiplies a known expectation by a known factor: both the identity A^Dr.GRPO = (K−1)/K · A^RLOO "
              "and the expectation of the RLOO term must be in place before it."},
    distractors={"F": "F is false: the group mean contains R_i / K, which depends on o_i itself, so its score term "
                      "does not vanish — E[R_i/K · ∇log π(o_i)] = ∇J / K. That is exactly where the 1/K goes."},
)


# ---------------------------------------------------------------------------------------------------------------
# 7.5 Predict, then measure: PPO's loss while the reward rises.

PREDICT = ChoiceQuestion(
    name="ch07_predict_ppo_loss", chapter=7, title="Predict, then measure: PPO's loss while the reward rises",
    variable="answer_loss", minutes=8, difficulty="medium",
    choices={"A": "it falls as the reward rises, like a supervised loss",
             "B": "it rises with the reward (positively correlated over the updates)",
             "C": "it stays at 0: the advantages are whitened, so the loss has mean 0 on every batch"},
    answer="B",
    explanations={
        "A": "look at the printed correlation and the first and last values: the surrogate is rebuilt on every "
             "batch from fresh, centred advantages, so its value is not J — there is no reason for it to fall.",
        "C": "look at the printed first and last values: the logged loss is not 0 and it changes over training. "
             "Whitening makes the advantages' token mean 0 over the whole batch, so at w_t = 1 the loss on the "
             "whole batch would be 0; but PPO logs the mean over its 8 inner steps, each on a minibatch (half the "
             "batch, whose tokens need not average 0) and, after the first, at ratios that have already moved to "
             "lower the loss — so nothing holds the logged value at 0.",
    },
)
