"""Returns, baselines and advantages: pure functions of (B, T) tensors.

Notation: ``rewards[b, t]`` is r_t of row b, ``mask[b, t]`` is 1 on valid
tokens (up to and including EOS), γ is ``gamma``.

Reward-to-go (Eq. 3.3):  G_t = Σ_{k ≥ t} γ^{k−t} r_k.
Causality justifies it: the action at step t cannot change rewards that came
before it, so those rewards add only noise (their score terms have mean zero).

A *baseline* b is subtracted from G_t to form the advantage A_t = G_t − b.
Any b that does not depend on the action a_t keeps the gradient unbiased,
because E_a[∇ log π(a|s)] = Σ_a ∇π(a|s) = ∇ 1 = 0. Baselines are named
functions in :data:`BASELINES`, all with the signature ``fn(BaselineInputs)``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from . import checks


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` over the entries where ``mask`` is 1."""
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp_min(1.0)
    return (x * mask).sum(dim) / mask.sum(dim).clamp_min(1.0)


def masked_std(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Standard deviation of ``x`` over the valid entries (population form)."""
    mean = masked_mean(x, mask)
    return masked_mean((x - mean) ** 2, mask).sqrt()


def whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / (std + eps) over valid entries; zero elsewhere.

    Rescaling by a batch statistic changes the step size per batch and adds a
    small bias; it is a popular, optional stabiliser, not part of the theorem.
    """
    return (x - masked_mean(x, mask)) / (masked_std(x, mask) + eps) * mask


def reward_to_go(rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """G_t = r_t + γ G_{t+1}, computed right to left; masked positions hold 0.

    >>> r = torch.tensor([[1., 0., 2., 0.]]); m = torch.tensor([[1., 1., 1., 0.]])
    >>> reward_to_go(r, m, gamma=0.5)
    tensor([[1.5000, 1.0000, 2.0000, 0.0000]])
    """
    checks.unit_interval("gamma", gamma)
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = (rewards[:, t] + gamma * running) * mask[:, t]   # G_t = r_t + γ G_{t+1}
        returns[:, t] = running
    return returns


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        gae_lambda: float = 1.0) -> torch.Tensor:
    """Generalised advantage estimation (Eq. 5.4), right to left:

        δ_t = r_t + γ V(s_{t+1}) − V(s_t)          (TD error; V after the last valid token is 0)
        A_t = δ_t + γλ A_{t+1}

    λ = 1 gives the Monte Carlo advantage G_t − V(s_t); λ = 0 gives the one-step TD error.

    >>> r = torch.tensor([[0., 1.]]); v = torch.tensor([[0.5, 0.5]]); m = torch.ones(1, 2)
    >>> gae(r, v, m, gamma=1.0, gae_lambda=0.0)
    tensor([[0.0000, 0.5000]])
    """
    checks.unit_interval("gamma", gamma)
    checks.unit_interval("gae_lambda", gae_lambda)
    values = values * mask
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], 1)   # V(s_{t+1}), 0 past the end
    deltas = (rewards + gamma * next_values - values) * mask                         # δ_t
    adv = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = deltas[:, t] + gamma * gae_lambda * running * mask[:, t]          # A_t = δ_t + γλ A_{t+1}
        adv[:, t] = running
    return adv * mask


@dataclass
class BaselineInputs:
    """Everything a baseline may look at. ``state`` persists across steps (per run)."""
    returns: torch.Tensor                   # (B, T) G_t
    mask: torch.Tensor                      # (B, T)
    state: dict = field(default_factory=dict)
    values: torch.Tensor | None = None      # (B, T) V(s_t), for the learned-value baseline
    ema_decay: float = 0.9


def no_baseline(inp: BaselineInputs) -> torch.Tensor:
    """b = 0. Unbiased, and the noisiest: every token's score is scaled by its full return."""
    return torch.zeros_like(inp.returns)


def batch_mean(inp: BaselineInputs) -> torch.Tensor:
    """b_t = mean of G_t over the rows still running at step t (a per-position constant).

    Almost unbiased: b includes the row's own return, which correlates b with
    that row's action, giving an O(1/B) bias (leave-one-out removes it exactly).
    """
    b = masked_mean(inp.returns, inp.mask, dim=0)                 # (T,)
    return b.expand_as(inp.returns) * inp.mask


def moving_average(inp: BaselineInputs) -> torch.Tensor:
    """b_t = exponential moving average of past batches' mean G_t, per position.

    Unbiased: b is computed from *earlier* batches only, so it is independent of
    this batch's actions. The first batch has no history and uses b = 0.
    """
    current = masked_mean(inp.returns, inp.mask, dim=0).detach()  # (T,)
    ema = inp.state.get("ema")
    if ema is None or ema.shape != current.shape:
        ema = torch.zeros_like(current)
        inp.state["ema"] = current
    else:
        inp.state["ema"] = inp.ema_decay * ema + (1 - inp.ema_decay) * current  # update *after* use
    return ema.expand_as(inp.returns) * inp.mask


BASELINES: dict[str, Callable[[BaselineInputs], torch.Tensor]] = {
    "none": no_baseline,
    "batch_mean": batch_mean,
    "moving_average": moving_average,
}
