"""Exercises for chapter 05 (actor-critic): GAE(λ) right to left with a mask, the n-step target, the
A2C losses with the right things held fixed (graded with the reference GAE), the γ^(t−1) of the
discounted objective, a prediction about λ's effect on the variance with a bad critic, and a proof
with one false step (where γ^(t−1) goes).

Tensor conventions as in :mod:`pglab.advantages`: ``rewards[i, t]`` is r_t and ``values[i, t]`` is
V_φ(s_t) of sample i (array index t is step t + 1), ``mask[i, t]`` is 1 on the tokens actually
written (up to and including ``<eos>``) and 0 after it. After ``<eos>`` the rewards and the critic's
outputs are junk (the critic still outputs a number there); V after the last valid token is 0.

One module per exercise, each with its reference, its random cases and the hints for its classic
mistakes: :mod:`.ex1_gae` (5.1), :mod:`.ex2_nstep` (5.2), :mod:`.ex3_a2c` (5.3), :mod:`.ex4_discounted`
(5.4), :mod:`.questions` (5.5, 5.6); :mod:`.cases` draws the episodes they share.
"""
from __future__ import annotations

from .cases import LONG_T
from .ex1_gae import GAE, gae
from .ex2_nstep import NSTEP, nstep_return
from .ex3_a2c import A2C_LOSS, LOSS_PARTS, _a2c_compare, _a2c_observe, a2c_losses  # noqa: F401  (tests observe)
from .ex4_discounted import DISCOUNT, discounted_weights
from .questions import PREDICT, PROOF

__all__ = ["A2C_LOSS", "DISCOUNT", "EXERCISES", "GAE", "LONG_T", "LOSS_PARTS", "NSTEP", "PREDICT", "PROOF",
           "a2c_losses", "discounted_weights", "gae", "nstep_return"]

EXERCISES = [GAE, NSTEP, A2C_LOSS, DISCOUNT, PREDICT, PROOF]
