"""Exercises for chapter 06 (text rewards and applications): the per-token KL penalty of Eq. 6.2, a
sentence chrF reward paid on the last token, the exact optimum π* ∝ π_ref·exp(R/β) of the
KL-regularised objective, and a prediction about how β moves that optimum.

Tensor conventions as in :mod:`pglab.advantages`: ``rewards[i, t]``, ``logprobs[i, t]`` =
log π_θ(a_t|s_t) and ``ref_logprobs[i, t]`` = log π_ref(a_t|s_t) of sample i; ``mask[i, t]`` is 1 on
the tokens actually written (up to and including ``<eos>``) and 0 after it.

One module per exercise, each with its reference, its random cases and the hints for its classic
mistakes: :mod:`.ex1_kl_penalty` (6.1), :mod:`.ex2_chrf` (6.2), :mod:`.ex3_optimum` (6.3), :mod:`.questions`
(6.4); :mod:`.cases` draws the masks they share.
"""
from __future__ import annotations

from .ex1_kl_penalty import KL_PENALTY, kl_penalised_rewards
from .ex2_chrf import CHRF, chrf_rewards
from .ex3_optimum import OPTIMUM, kl_optimum
from .questions import PREDICT

__all__ = ["CHRF", "EXERCISES", "KL_PENALTY", "OPTIMUM", "PREDICT", "chrf_rewards", "kl_optimum",
           "kl_penalised_rewards"]

EXERCISES = [KL_PENALTY, CHRF, OPTIMUM, PREDICT]
