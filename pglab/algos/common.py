"""Pieces every algorithm shares: grouped prompts, baseline inputs, the guarded update, stats."""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from ..advantages import BASELINES, BaselineInputs, masked_mean, masked_std
from ..rollout import Rollout, sample


class NonFiniteError(FloatingPointError):
    """Raised when a loss or gradient is NaN/inf; parameters are left untouched."""


def grouped_prompts(task, batch_size: int, group_size: int, generator: torch.Generator) -> torch.Tensor:
    """``batch_size // group_size`` prompts, each repeated ``group_size`` times in a row (B, P)."""
    prompts = task.sample_prompts(batch_size // group_size, generator)
    return prompts.repeat_interleave(group_size, dim=0)


def baseline_inputs(baseline: str, policy, task, rollout: Rollout, returns: torch.Tensor,
                    returns_fn, gamma: float, group_size: int, state: dict,
                    generator: torch.Generator) -> BaselineInputs:
    """Collect what baseline ``baseline`` needs (its ``needs`` attribute), nothing more."""
    needs = getattr(BASELINES[baseline], "needs", ())
    greedy_returns = None
    if "greedy" in needs:
        g = sample(policy, rollout.prompt_ids, rollout.mask.shape[1], generator=generator, greedy=True)
        g_rewards = task.reward(rollout.prompt_ids, g.completion_ids, g.mask).to(returns.device)
        greedy_returns = returns_fn(g_rewards, g.mask, gamma)
    if "values" in needs and rollout.values is None:
        raise ValueError(f"baseline {baseline!r} needs a policy with a value head "
                         "(make_policy(..., value_head='shared' or 'separate'))")
    return BaselineInputs(returns, rollout.mask, state, values=rollout.values,
                          greedy_returns=greedy_returns, group_size=group_size)


def check_group_size(baseline: str, batch_size: int, group_size: int) -> None:
    """Group baselines need K >= 2 samples per prompt, and K must divide the batch."""
    if batch_size % group_size:
        raise ValueError(f"group_size must divide batch_size={batch_size}, got {group_size}")
    if "groups" in getattr(BASELINES[baseline], "needs", ()) and group_size < 2:
        raise ValueError(f"baseline {baseline!r} needs group_size >= 2 samples per prompt, got {group_size}")


def value_loss(values: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """½ · mean over valid tokens of (V(s_t) − target_t)², target held fixed (a regression)."""
    return 0.5 * masked_mean((values - targets.detach()) ** 2, mask)


def check_rewards(rewards: torch.Tensor, task) -> None:
    """Refuse a batch whose task reward is NaN or ±inf — before it reaches the loss.

    The message blames the reward, not the learning rate: a non-finite reward
    is a bug in the reward function (or its inputs), whatever the step size.
    """
    bad = ~torch.isfinite(rewards)
    if bad.any():
        rows = bad.any(1)
        example = rewards[bad][0].item()
        raise NonFiniteError(f"the reward is non-finite ({example}) for {int(rows.sum())} of {len(rows)} completions "
                             f"of task {getattr(task, 'name', type(task).__name__)!r}; stopping before the update "
                             "(parameters unchanged) — check the task's reward function")


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
