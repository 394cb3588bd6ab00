"""Exercises for chapter 07 (PPO, the GRPO family, KL estimators): PPO's per-token clipped surrogate, RLOO /
GRPO / Dr. GRPO advantages from grouped returns, the k1 and k3 estimators from log-probs, the proof of
Dr. GRPO's (K−1)/K factor (order the steps), and a prediction about PPO's loss while the reward rises.

Tensor conventions as in :mod:`pglab.algos.ppo` and :mod:`pglab.kl`: ``logprobs[i, t]`` = log π_θ(a_t|s_t),
``old_logprobs[i, t]`` = log π_old(a_t|s_t) recorded when the batch was sampled, ``ref_logprobs[i, t]`` =
log π_ref(a_t|s_t); ``mask[i, t]`` is 1 on the tokens actually written (up to and including ``<eos>``) and 0
after it. Group returns ``returns[i]`` come in consecutive groups of ``group_size`` (K) rows per prompt.

One module per exercise, each with its reference, its random cases and the hints for its classic
mistakes: :mod:`.ex1_surrogate` (7.1), :mod:`.ex2_group` (7.2), :mod:`.ex3_kl` (7.3), :mod:`.questions`
(7.4, 7.5); :mod:`.cases` draws the masks they share.
"""
from __future__ import annotations

from .ex1_surrogate import NO_GRAD_HINT, SURROGATE, clipped_surrogate
from .ex2_group import GROUP, group_advantages
from .ex3_kl import KL, kl_k1_k3
from .questions import PREDICT, PROOF

__all__ = ["EXERCISES", "GROUP", "KL", "NO_GRAD_HINT", "PREDICT", "PROOF", "SURROGATE", "clipped_surrogate",
           "group_advantages", "kl_k1_k3"]

EXERCISES = [SURROGATE, GROUP, KL, PROOF, PREDICT]
