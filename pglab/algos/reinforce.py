"""REINFORCE with reward-to-go and a named baseline.

Key equations (numbered as in chapter 03):

    (3.1)  ∇J(θ) = E_τ[ Σ_t ∇ log π_θ(a_t|s_t) · G_t ]
    (3.3)  G_t = Σ_{k≥t} γ^{k−t} r_k                          (reward-to-go)
    (3.4)  A_t = G_t − b_t                                     (baseline)
    (3.5)  L(θ) = −(1/B) Σ_i Σ_t A_{i,t} log π_θ(a_{i,t}|s_{i,t}) − c_H · H̄

Choices and deviations, in order of appearance:

1. Per-token losses are *summed* over a sequence and *averaged* over the batch,
   so ∇L is an unbiased estimate of −∇J (a per-token mean would weight long
   sequences less and estimate a different gradient).
2. γ < 1 with ``returns="reward_to_go"`` (the usual practice) weights each token
   by G_t^γ without the factor γ^(t−1): that is the gradient of *no* objective —
   neither J nor the discounted J_γ = E[Σ_t γ^(t−1) r_t] (Nota & Thomas, "Is the
   policy gradient a gradient?", 2020). It is a biased direction that trades
   bias for lower variance. ``returns="discounted_reward_to_go"`` weights by
   γ^(t−1) G_t^γ (tokens t = 1 … T) and is an unbiased estimate of ∇J_γ (Eq. 5.6). Chapter 05 measures both.
3. Group baselines (leave-one-out, group_norm) draw ``batch_size / group_size``
   prompts and sample each ``group_size`` times.
4. With a value head, the critic regresses on the Monte Carlo return G_t
   (``value_coef``), so ``baseline="value"`` is REINFORCE with a learned baseline.
5. Advantage normalisation (optional) and the entropy bonus are stabilisers
   outside the theorem; both are off by default.
6. ``kl_coef`` > 0 subtracts β·(log π − log π_ref) from each token's reward
   (Eq. 6.2): the KL-regularised objective E[R] − β KL(π ‖ π_ref), whose optimum is
   π* ∝ π_ref · exp(R/β); it keeps the policy from collapsing onto the reward's few best outputs.
7. Log-probs are recomputed in one teacher-forced pass rather than kept from
   sampling (same values, less memory, faster).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import checks
from ..advantages import BASELINES, RETURNS, whiten
from ..rollout import sample, token_logprobs
from .common import (apply_update, check_rewards, baseline_inputs, check_group_size, grouped_prompts, rollout_stats,
                     value_loss)


@dataclass
class ReinforceConfig(checks.Validated):
    """Hyper-parameters of REINFORCE."""
    batch_size: int = 64
    """Completions sampled per update (B); larger means less gradient noise, slower steps."""
    gamma: float = 1.0
    """Discount γ in [0, 1]; 1 estimates the gradient of the undiscounted objective."""
    baseline: str = "batch_mean"
    """Name of a baseline in ``pglab.advantages.BASELINES``."""
    returns: str = "reward_to_go"
    """Token weights before the baseline: "reward_to_go" (Eq. 3.3), "total" (the whole return R(τ) on every token, chapter 02's Eq. 2.3),
    "discounted_reward_to_go" (γ^(t−1) G_t, the estimator of ∇J_γ, Eq. 5.6) or "reward_so_far" (the source
    article's biased choice, kept for comparison)."""
    group_size: int = 1
    """Samples per prompt (K); leave_one_out and group_norm need K >= 2."""
    normalize_advantages: bool = False
    """Whiten advantages over the batch (mean 0, std 1) before the loss."""
    entropy_coef: float = 0.0
    """c_H ≥ 0, weight of the entropy bonus that keeps the policy exploring."""
    value_coef: float = 0.5
    """c_v ≥ 0, weight of the critic's regression loss (only with a value head)."""
    kl_coef: float = 0.0
    """β ≥ 0: per-token penalty β·(log π − log π_ref) against ``train(..., reference=...)``."""
    max_grad_norm: float | None = 1.0
    """Clip the global gradient norm to this value (None: no clipping)."""
    temperature: float = 1.0
    """Sampling temperature (> 0); the gradient is taken for the tempered policy."""

    def __post_init__(self) -> None:
        self.batch_size = checks.positive_int("batch_size", self.batch_size, maximum=checks.MAX_BATCH)
        self.gamma = checks.unit_interval("gamma", self.gamma)
        checks.choice("baseline", self.baseline, list(BASELINES))
        checks.choice("returns", self.returns, list(RETURNS))
        self.group_size = checks.positive_int("group_size", self.group_size)
        self.normalize_advantages = checks.boolean("normalize_advantages", self.normalize_advantages)
        check_group_size(self.baseline, self.batch_size, self.group_size)
        self.entropy_coef = checks.entropy_coef("entropy_coef", self.entropy_coef)
        self.value_coef = checks.non_negative_float("value_coef", self.value_coef)
        self.kl_coef = checks.non_negative_float("kl_coef", self.kl_coef)
        if self.max_grad_norm is not None:
            self.max_grad_norm = checks.positive_float("max_grad_norm", self.max_grad_norm)
        self.temperature = checks.positive_float("temperature", self.temperature)


def loss(logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
         entropy: torch.Tensor, entropy_coef: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. (3.5): the surrogate whose gradient is the REINFORCE estimate."""
    policy_loss = -(advantages.detach() * logprobs * mask).sum(1).mean()       # Eq. (3.5)
    mean_entropy = (entropy * mask).sum() / mask.sum().clamp_min(1.0)
    total = policy_loss - entropy_coef * mean_entropy
    return total, {"loss/policy": policy_loss.item()}


def step(policy, optimizer: torch.optim.Optimizer, task, config: ReinforceConfig,
         generator: torch.Generator, state: dict) -> dict[str, float]:
    """One REINFORCE update; returns its statistics."""
    # 1. sample
    prompts = grouped_prompts(task, config.batch_size, config.group_size, generator).to(policy.device)
    ro = sample(policy, prompts, task.max_new_tokens, generator=generator, temperature=config.temperature)
    # 2. rewards
    task_rewards = task.reward(prompts, ro.completion_ids, ro.mask).to(policy.device)  # (B, T)
    check_rewards(task_rewards, task)
    kl = kl_to_reference(state, prompts, ro) if config.kl_coef > 0 else torch.zeros_like(task_rewards)
    rewards = task_rewards - config.kl_coef * kl                                       # Eq. (6.2)
    # 3. advantages
    returns_fn = RETURNS[config.returns]
    returns = returns_fn(rewards, ro.mask, config.gamma)                              # Eq. (3.3)
    inputs = baseline_inputs(config.baseline, policy, task, ro, returns, returns_fn, config.gamma,
                             config.group_size, state, generator)
    advantages = BASELINES[config.baseline](inputs)                                    # Eq. (3.4)
    if config.normalize_advantages:
        advantages = whiten(advantages, ro.mask)
    # 4. loss
    out = token_logprobs(policy, prompts, ro.completion_ids, temperature=config.temperature)
    total, stats = loss(out.logprobs, advantages, ro.mask, out.entropy, config.entropy_coef)
    if out.values is not None:                     # critic regresses on the Monte Carlo return
        v_loss = value_loss(out.values, returns, ro.mask)
        total = total + config.value_coef * v_loss
        stats["loss/value"] = v_loss.item()
    # 5. update
    grad_norm = apply_update(optimizer, total, policy.parameters(), config.max_grad_norm)
    # 6. stats
    return {**rollout_stats(task_rewards, advantages, ro.mask, out.entropy), **stats,
            "loss/total": total.item(), "grad_norm": grad_norm, "kl": kl.sum(1).mean().item()}


def kl_to_reference(state: dict, prompts: torch.Tensor, ro) -> torch.Tensor:
    """Per-token log π(a_t|s_t) − log π_ref(a_t|s_t) of the sampled tokens (B, T), no grad.

    Its expectation under π is KL(π ‖ π_ref) over whole completions (chapter 06 checks this
    exactly); as a reward penalty β · (this) it keeps the policy near the reference.
    """
    reference = state.get("reference")
    if reference is None:
        raise ValueError("kl_coef > 0 needs a reference policy: train(..., reference=ref_policy)")
    with torch.no_grad():
        ref_logprobs = token_logprobs(reference, prompts.to(reference.device),
                                      ro.completion_ids.to(reference.device)).logprobs.to(prompts.device)
    return (ro.old_logprobs - ref_logprobs) * ro.mask
