"""Pieces every algorithm shares: the guarded optimizer update and batch statistics."""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from ..advantages import masked_mean, masked_std


class NonFiniteError(FloatingPointError):
    """Raised when a loss or gradient is NaN/inf; parameters are left untouched."""


def apply_update(optimizer: torch.optim.Optimizer, loss: torch.Tensor,
                 params: Iterable[torch.nn.Parameter], max_grad_norm: float | None) -> float:
    """Backpropagate ``loss``, clip, and step — unless anything is non-finite.

    Returns the gradient norm *before* clipping. The check happens before
    ``optimizer.step()``, so a bad batch never reaches the weights.
    """
    if not torch.isfinite(loss):
        raise NonFiniteError(f"loss is {loss.item()}; stopping before the update "
                             "(parameters keep their last finite values) — try a smaller learning rate")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for p in params if p.grad is not None]
    limit = max_grad_norm if max_grad_norm else math.inf
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, limit))
    if not math.isfinite(grad_norm):
        optimizer.zero_grad(set_to_none=True)
        raise NonFiniteError(f"gradient norm is {grad_norm}; stopping before the update "
                             "(parameters keep their last finite values) — try a smaller learning rate")
    optimizer.step()
    return grad_norm


def rollout_stats(rewards: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                  entropy: torch.Tensor) -> dict[str, float]:
    """The statistics every algorithm logs; see the README for their meaning."""
    episode_return = rewards.sum(1)                                   # (B,)
    return {
        "reward/mean": episode_return.mean().item(),
        "reward/std": episode_return.std(unbiased=False).item(),
        "adv/mean": masked_mean(advantages, mask).item(),
        "adv/std": masked_std(advantages, mask).item(),
        "entropy": masked_mean(entropy.detach(), mask).item(),
        "len/mean": mask.sum(1).mean().item(),
    }
