"""Exercise 5.1: GAE(λ), right to left, with a mask (Eq. 5.4), its reference, its cases and its hints.

    δ_t = r_t + γ V(s_{t+1}) − V(s_t),   A_t = δ_t + γλ A_{t+1},   V = 0 (and A = 0) after the last valid token.

The recursion runs from the last step back to the first, because A_t needs A_{t+1}. The diagnoses recognise
the classic slips by what they return on the same input: a left-to-right scan, no reset at ``<eos>`` (the
critic's junk flows back), γ and λ swapped, a scan that decays by λ or by γ alone (GAE at λ = 1), the TD
errors alone (λ = 0), a TD error without the next value or without its γ, and a closed form that divides by
(γλ)^t (NaN at γλ = 0, inf on the long episode).
"""
from __future__ import annotations

import torch

from ..ch04 import BT
from ..function import Case, Exercise, mistake, symptom
from .cases import LONG_T, _episodes, _not_finite, _not_finite_at_zero_product, _rand


# ---------------------------------------------------------------------------------------------------------------
# 5.1 GAE(λ), Eq. 5.4:  δ_t = r_t + γ V(s_{t+1}) − V(s_t),  A_t = δ_t + γλ A_{t+1},  V = 0 after the last valid token.

def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Reference (as :func:`pglab.advantages.gae`): TD errors, then one right-to-left scan."""
    v = values * mask                                                             # V = 0 after the episode
    next_v = torch.cat([v[:, 1:], torch.zeros_like(v[:, :1])], 1)                # V(s_{t+1})
    delta = (rewards + gamma * next_v - v) * mask                                 # δ_t (Eq. 5.1)
    adv, running = torch.zeros_like(rewards), torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        running = delta[:, t] + gamma * lam * running * mask[:, t]                # A_t = δ_t + γλ A_{t+1}
        adv[:, t] = running
    return adv * mask


def _gae_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T in [(2, 3), (3, 4), (3, 6), (1, 1), (4, 5)]:
        gamma, lam = _rand(0.5, 0.9, g), _rand(0.2, 0.8, g)
        if abs(gamma - lam) < 0.1:
            lam = round(lam - 0.15, 2)
        rewards, values, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}, lam={lam}",
                        {"rewards": rewards, "values": values, "mask": mask, "gamma": gamma, "lam": lam}))
    edges = [(2, 4, _rand(0.5, 0.9, g), 0.0), (2, 4, _rand(0.5, 0.9, g), 1.0),      # λ = 0: TD errors; λ = 1: MC
             (3, 4, 0.0, _rand(0.2, 0.8, g)), (3, 5, 1.0, _rand(0.2, 0.8, g)),      # γ = 0 and γ = 1
             (2, LONG_T, _rand(0.9, 0.99, g), _rand(0.9, 0.99, g))]                 # a long episode
    for B, T, gamma, lam in edges:
        rewards, values, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}, lam={lam}",
                        {"rewards": rewards, "values": values, "mask": mask, "gamma": gamma, "lam": lam}))
    return out


def _scan(delta, mask, decay, reverse=True):
    adv, running = torch.zeros_like(delta), torch.zeros_like(delta[:, 0])
    steps = reversed(range(delta.shape[1])) if reverse else range(delta.shape[1])
    for t in steps:
        running = delta[:, t] + decay * running * mask[:, t]
        adv[:, t] = running
    return adv * mask


def _deltas(rewards, values, mask, gamma):
    v = values * mask
    return (rewards + gamma * torch.cat([v[:, 1:], torch.zeros_like(v[:, :1])], 1) - v) * mask


def _gae_left_to_right(rewards, values, mask, gamma, lam):
    return _scan(_deltas(rewards, values, mask, gamma), mask, gamma * lam, reverse=False)


def _gae_no_reset(rewards, values, mask, gamma, lam):           # V(s_{t+1}) read after <eos>: the critic's junk
    next_v = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], 1)
    delta = (rewards + gamma * next_v - values) * mask
    return _scan(delta, mask, gamma * lam)


def _gae_no_reset_anywhere(rewards, values, mask, gamma, lam):  # no mask until the output: junk flows back from T
    next_v = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], 1)
    return _scan(rewards + gamma * next_v - values, torch.ones_like(mask), gamma * lam) * mask


def _gae_no_reset_rewards(rewards, values, mask, gamma, lam):   # values masked, but the scan runs through the junk
    v = values * mask
    next_v = torch.cat([v[:, 1:], torch.zeros_like(v[:, :1])], 1)
    return _scan(rewards + gamma * next_v - v, torch.ones_like(mask), gamma * lam) * mask


def _gae_no_reset_symptom(inputs, got, expected) -> bool:
    got = torch.as_tensor(got, dtype=torch.float64)
    return any(got.shape == expected.shape and torch.allclose(got, f(**inputs).double(), atol=1e-5, rtol=1e-4)
               for f in (_gae_no_reset, _gae_no_reset_anywhere, _gae_no_reset_rewards))


def _gae_swapped(rewards, values, mask, gamma, lam):            # λ where γ belongs (the scan's γλ is symmetric)
    return gae(rewards, values, mask, lam, gamma)


def _gae_lambda_only(rewards, values, mask, gamma, lam):        # A_t = δ_t + λ A_{t+1}
    return _scan(_deltas(rewards, values, mask, gamma), mask, lam)


def _gae_gamma_only(rewards, values, mask, gamma, lam):         # A_t = δ_t + γ A_{t+1}: λ = 1
    return _scan(_deltas(rewards, values, mask, gamma), mask, gamma)


def _gae_td_only(rewards, values, mask, gamma, lam):            # δ_t alone: λ = 0
    return _deltas(rewards, values, mask, gamma)


def _gae_no_next_value(rewards, values, mask, gamma, lam):      # δ_t = r_t − V(s_t)
    return _scan((rewards - values) * mask, mask, gamma * lam)


def _gae_gamma_not_in_delta(rewards, values, mask, gamma, lam):  # δ_t = r_t + V(s_{t+1}) − V(s_t); γλ in the scan
    return _scan(_deltas(rewards, values, mask, 1.0), mask, gamma * lam)


GAE = Exercise(
    name="ch05_gae", chapter=5, title="GAE(λ), right to left, with a mask", function="gae",
    minutes=10, difficulty="medium", reference=gae, cases=_gae_cases,
    diagnoses=[
        mistake("left_to_right",
                "you scanned left to right: A_t = δ_t + γλ A_{t+1} needs A_{t+1} first, so the loop runs from the "
                "last step back to the first (for t in reversed(range(T))). Left to right sums the *past* TD "
                "errors, which a_t did not cause.", _gae_left_to_right),
        symptom("no_reset",
                "no reset at the end of the episode: past <eos> the critic's values and the rewards are junk, and "
                "they flowed into A_t of the valid tokens (through V(s_{t+1}) at the last token, or through the "
                "scan). The episode ends at <eos>: V after it is 0 and A_{t+1} after it is 0 — mask the values "
                "before shifting them, and the TD errors.", _gae_no_reset_symptom),
        mistake("swapped",
                "λ where γ belongs (γ and λ swapped, or λ inside the TD error): γ discounts the next value in "
                "δ_t = r_t + γ V(s_{t+1}) − V(s_t); λ only enters the scan, A_t = δ_t + γλ A_{t+1}.", _gae_swapped),
        mistake("lambda_only",
                "the scan decays by λ only: each step further away is discounted by γ *and* weighted by λ, "
                "A_t = δ_t + γλ A_{t+1}.", _gae_lambda_only),
        mistake("gamma_only",
                "your scan ignores λ (A_t = δ_t + γ A_{t+1}): that is GAE with λ = 1, the Monte Carlo advantage "
                "G_t − V(s_t). Multiply by λ as well.", _gae_gamma_only),
        mistake("td_only",
                "you returned the one-step TD errors δ_t: that is GAE with λ = 0. Add the later TD errors, "
                "weighted by (γλ)^k: A_t = δ_t + γλ A_{t+1}.", _gae_td_only),
        mistake("no_next_value",
                "your TD error has no next value: δ_t = r_t + γ V(s_{t+1}) − V(s_t) bootstraps from the critic's "
                "guess for the *next* state (values shifted one step left, 0 after the last valid token).",
                _gae_no_next_value),
        mistake("gamma_not_in_delta",
                "γ is missing from the TD error: you wrote δ_t = r_t + V(s_{t+1}) − V(s_t) and put γ only in "
                "the scan. The next value is discounted inside δ_t too: δ_t = r_t + γ V(s_{t+1}) − V(s_t), then "
                "A_t = δ_t + γλ A_{t+1}.", _gae_gamma_not_in_delta),
        symptom("nan_at_zero",
                "NaN where γλ = 0 (this input has λ = 0 or γ = 0): dividing by (γλ)^t. The closed form "
                "A_t = Σ_k (γλ)^k δ_{t+k} computed as a reversed cumsum of (γλ)^t δ_t, then divided by (γλ)^t, "
                "gives 0 / 0 once (γλ)^t = 0 (and loses precision as (γλ)^t underflows on long episodes). Use "
                "the right-to-left recursion A_t = δ_t + γλ A_{t+1}: it needs no division.",
                _not_finite_at_zero_product),
        symptom("not_finite",
                "inf or NaN on this input: on a long episode (γλ)^t becomes tiny (or 0 in float32), and "
                "dividing by it — or by anything that can be 0 — overflows. Use the right-to-left recursion "
                "A_t = δ_t + γλ A_{t+1}: it needs no division.", _not_finite),
    ],
    **BT,
)
