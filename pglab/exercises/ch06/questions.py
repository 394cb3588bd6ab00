"""Exercise 6.4: predict, then measure, how β moves the optimum π* away from π_ref.

π* ∝ π_ref · exp(R/β): β sits in the exponent, and a larger β makes moving away from π_ref more expensive.
The student predicts how KL(π*‖π_ref) changes as β grows, then measures it; a wrong letter's explanation
points at the measured KL column and at exp(R/β), not at the answer.
"""
from __future__ import annotations

from ..choice import ChoiceQuestion


# ---------------------------------------------------------------------------------------------------------------
# 6.4 Predict, then measure: how β moves π*.

PREDICT = ChoiceQuestion(
    name="ch06_predict_beta", chapter=6, title="Predict, then measure: KL(π* ‖ π_ref) as β grows",
    variable="answer_beta", minutes=5, difficulty="easy",
    choices={"A": "it grows: a larger β makes the penalty matter more, so π* moves further",
             "B": "it falls towards 0",
             "C": "it does not depend on β"},
    answer="B",
    explanations={
        "A": "β multiplies the *penalty*: a larger β makes moving away from π_ref more expensive. Look at the "
             "KL column you measured, and at exp(R/β) as β grows.",
        "C": "β is in the exponent, π* ∝ π_ref · exp(R/β): look at the KL column you measured.",
    },
)
