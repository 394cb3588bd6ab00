"""Exercise 5.4: the weights γ^(t−1) G_t of the discounted objective's gradient (Eq. 5.6), with their hints.

    w_t = γ^(t−1) G_t,   G_t = Σ_{k≥t} γ^(k−t) r_k,   tokens t = 1 … T (array index t − 1).

Without the factor γ^(t−1) this is the popular "discounted reward-to-go" estimator, which chapter 05 §5 shows
is the gradient of no objective. The diagnoses catch that, γ^t instead of γ^(t−1), an undiscounted G_t, the
discount applied twice, the reward-so-far, and γ^(t−1) computed as exp((t−1) log γ) (NaN at γ = 0).
"""
from __future__ import annotations

import torch

from ..ch04 import BT
from ..function import Case, Exercise, mistake, symptom
from .cases import LONG_T, _episodes, _not_finite_where, _rand


# ---------------------------------------------------------------------------------------------------------------
# 5.4 The weights of ∇J_γ, Eq. 5.6:  w_t = γ^(t−1) G_t with G_t = Σ_{k≥t} γ^(k−t) r_k, tokens t = 1 … T.

def discounted_weights(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Reference (as :func:`pglab.advantages.discounted_reward_to_go`): γ^(t−1) G_t, masked."""
    G, running = torch.zeros_like(rewards), torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        running = (rewards[:, t] + gamma * running) * mask[:, t]                  # G_t = r_t + γ G_{t+1}
        G[:, t] = running
    return gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype) * G        # array index t − 1: γ^(t−1)


def _disc_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T in [(2, 3), (3, 4), (2, 6), (1, 2)]:
        gamma = _rand(0.4, 0.9, g)
        rewards, _, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}", {"rewards": rewards, "mask": mask, "gamma": gamma}))
    for B, T, gamma in [(2, 4, 0.0), (3, 4, 1.0), (2, LONG_T, _rand(0.9, 0.99, g))]:   # γ = 0 and 1; a long one
        rewards, _, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}", {"rewards": rewards, "mask": mask, "gamma": gamma}))
    return out


def _disc_rtg(rewards, mask, gamma):
    return discounted_weights(rewards, mask, gamma) / gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype)


def _disc_gamma_t(rewards, mask, gamma):                      # γ^t G_t (t from 1)
    return gamma * discounted_weights(rewards, mask, gamma)


def _disc_undiscounted_g(rewards, mask, gamma):               # γ^(t−1) Σ_{k≥t} r_k
    return discounted_weights(rewards, mask, 1.0) * gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype)


def _disc_twice(rewards, mask, gamma):                         # Σ_{k≥t} γ^(k−1) r_k, then discounted again
    return discounted_weights(rewards, mask, gamma) * gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype)


def _disc_so_far(rewards, mask, gamma):                        # Σ_{k≤t} γ^(k−1) r_k
    t = torch.arange(rewards.shape[1], dtype=rewards.dtype)
    return (rewards * mask * gamma ** t).cumsum(1) * mask


DISCOUNT = Exercise(
    name="ch05_discounted_weights", chapter=5, title="γ^(t−1) in the right place", function="discounted_weights",
    minutes=5, difficulty="easy", reference=discounted_weights, cases=_disc_cases,
    diagnoses=[
        mistake("no_factor",
                "you returned the discounted reward-to-go G_t without the factor γ^(t−1): that is the popular "
                "estimator, which chapter 05 §5 shows is the gradient of no objective. ∇J_γ weights token t by "
                "γ^(t−1) G_t (Eq. 5.6).", _disc_rtg),
        mistake("gamma_t",
                "discounting with γ^t in the wrong place: tokens are numbered t = 1 … T, so the first token's "
                "weight is γ^0 = 1 (array index t − 1; torch.arange(T) gives the exponents).", _disc_gamma_t),
        mistake("undiscounted_g",
                "your G_t is undiscounted: the reward-to-go inside Eq. 5.6 is discounted from step t on, "
                "G_t = Σ_{k≥t} γ^(k−t) r_k, *and* the whole is weighted by γ^(t−1).", _disc_undiscounted_g),
        mistake("twice",
                "you discounted twice: Σ_{k≥t} γ^(k−1) r_k already equals γ^(t−1) G_t — multiplying it by γ^(t−1) "
                "again counts the first t − 1 steps twice.", _disc_twice),
        mistake("so_far",
                "you summed rewards up to t (reward-so-far): token t is credited with the rewards from t on.",
                _disc_so_far),
        symptom("nan_at_zero",
                "NaN at γ = 0: γ^(t−1) computed as exp((t−1) · log γ) gives exp(0 · (−inf)) = exp(NaN) for the "
                "first token, whose weight is γ^0 = 1 at every γ. Use powers, gamma ** torch.arange(T) "
                "(0.0 ** 0 = 1), not exp/log.", _not_finite_where("gamma", 0.0)),
    ],
    **BT,
)
