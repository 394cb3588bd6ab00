"""Exercise 5.2: the n-step target (Eq. 5.3), its reference, its cases and its hints.

    G_t^(n) = Σ_{k<n} γ^k r_{t+k} + γ^n V(s_{t+n}),   V = 0 (and no reward) past the end of the episode.

After n rewards r_t … r_{t+n−1} the next state is s_{t+n} (array index t + n); where that lies past the last
column, or after ``<eos>``, the episode is over and the bootstrap is 0. The diagnoses catch an index one
off either way, a bootstrap read after ``<eos>`` or clamped to the last column, γ^(n−1) on the bootstrap,
the junk rewards summed, and the advantage G_t^(n) − V(s_t) returned instead of the target.
"""
from __future__ import annotations

import torch

from ..ch04 import BT
from ..function import Case, Exercise, mistake
from .cases import LONG_T, _episodes, _rand


# ---------------------------------------------------------------------------------------------------------------
# 5.2 The n-step target, Eq. 5.3:  G_t^(n) = Σ_{k<n} γ^k r_{t+k} + γ^n V(s_{t+n}),  V = 0 (and no reward) past the end.

def nstep_return(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, n: int) -> torch.Tensor:
    """Reference (as :func:`pglab.advantages.nstep_returns`): shifted sums, all masked."""
    T = rewards.shape[1]
    r, v = rewards * mask, values * mask
    out = torch.zeros_like(rewards)
    for k in range(min(n, T)):                                                    # Σ_{k<n} γ^k r_{t+k}
        out[:, :T - k] += gamma ** k * r[:, k:]
    if n < T:                                                                     # + γ^n V(s_{t+n})
        out[:, :T - n] += gamma ** n * v[:, n:]
    return out * mask


def _nstep_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T, n in [(2, 4, 1), (3, 5, 2), (3, 6, 3), (2, 3, 5), (4, 5, 2)]:
        gamma = _rand(0.5, 0.9, g)
        rewards, values, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}, n={n}",
                        {"rewards": rewards, "values": values, "mask": mask, "gamma": gamma, "n": n}))
    for B, T, n, gamma in [(2, 4, 2, 0.0), (3, 5, 2, 1.0), (2, LONG_T, 8, _rand(0.9, 0.99, g))]:   # γ = 0, 1; long
        rewards, values, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}, n={n}",
                        {"rewards": rewards, "values": values, "mask": mask, "gamma": gamma, "n": n}))
    return out


def _nstep_with(rewards, values, mask, gamma, n, *, shift=0, power=None, mask_v=True, mask_r=True):
    T = rewards.shape[1]
    r = rewards * mask if mask_r else rewards
    v = values * mask if mask_v else values
    out = torch.zeros_like(rewards)
    for k in range(min(n, T)):
        out[:, :T - k] += gamma ** k * r[:, k:]
    j = n + shift
    if 0 <= j < T:
        out[:, :T - j] += gamma ** (n if power is None else power) * v[:, j:]
    return out * mask


def _nstep_index_before(rewards, values, mask, gamma, n):      # bootstraps from V(s_{t+n−1})
    return _nstep_with(rewards, values, mask, gamma, n, shift=-1)


def _nstep_index_after(rewards, values, mask, gamma, n):       # bootstraps from V(s_{t+n+1})
    return _nstep_with(rewards, values, mask, gamma, n, shift=1)


def _nstep_past_end(rewards, values, mask, gamma, n):          # V after <eos> not zeroed
    return _nstep_with(rewards, values, mask, gamma, n, mask_v=False)


def _nstep_gamma_power(rewards, values, mask, gamma, n):       # γ^(n−1) on the bootstrap
    return _nstep_with(rewards, values, mask, gamma, n, power=n - 1)


def _nstep_rewards_past_end(rewards, values, mask, gamma, n):  # junk rewards after <eos> summed
    return _nstep_with(rewards, values, mask, gamma, n, mask_r=False)


def _nstep_advantage(rewards, values, mask, gamma, n):         # returned A_t = G_t^(n) − V(s_t)
    return (nstep_return(rewards, values, mask, gamma, n) - values) * mask


def _nstep_clamped(rewards, values, mask, gamma, n):           # bootstrap index clamped to T − 1
    T = rewards.shape[1]
    r, v = rewards * mask, values * mask
    out = torch.zeros_like(rewards)
    for k in range(min(n, T)):
        out[:, :T - k] += gamma ** k * r[:, k:]
    out += gamma ** n * v[:, torch.clamp(torch.arange(T) + n, max=T - 1)]
    return out * mask


NSTEP = Exercise(
    name="ch05_nstep", chapter=5, title="The n-step target", function="nstep_return",
    minutes=7, difficulty="medium", reference=nstep_return, cases=_nstep_cases,
    diagnoses=[
        mistake("index_before",
                "off by one in the bootstrap: after n rewards r_t … r_{t+n−1} the next state is s_{t+n}, so the "
                "bootstrap is γ^n V(s_{t+n}) (array index t + n), not V(s_{t+n−1}).", _nstep_index_before),
        mistake("index_after",
                "off by one in the bootstrap: after n rewards r_t … r_{t+n−1} the next state is s_{t+n} (array "
                "index t + n), not s_{t+n+1}.", _nstep_index_after),
        mistake("past_end",
                "you bootstrapped past the end of the episode: when s_{t+n} lies after <eos> the critic's output "
                "there is junk and the episode is over, so V = 0 — mask the values.", _nstep_past_end),
        mistake("gamma_power",
                "the bootstrap is discounted once too little: the n rewards take powers γ^0 … γ^(n−1), so the "
                "value after them gets γ^n.", _nstep_gamma_power),
        mistake("rewards_past_end",
                "the junk rewards after <eos> went into the sum: only the rewards of valid tokens count (mask them).",
                _nstep_rewards_past_end),
        mistake("advantage",
                "you returned the n-step *advantage* G_t^(n) − V(s_t); the exercise asks for the target G_t^(n) "
                "itself (the critic's regression target).", _nstep_advantage),
        mistake("clamped",
                "you clamped the bootstrap index to T − 1: when t + n reaches past the last column there is no "
                "s_{t+n} to bootstrap from — the episode is over, V = 0 there, and G_t^(n) is just the "
                "(discounted) sum of the remaining rewards. Add γ^n V(s_{t+n}) only where t + n < T.",
                _nstep_clamped),
    ],
    **BT,
)
