"""PPO: the clipped surrogate, several epochs × minibatches on each batch, a GAE critic.

Key equations (Schulman et al. 2017, "Proximal Policy Optimization Algorithms"):

    (7.1)  ρ_t(θ) = π_θ(a_t|s_t) / π_old(a_t|s_t)                    (importance ratio, π_old sampled the batch)
    (7.2)  L^CLIP(θ) = −(1/B) Σ_i Σ_t min( ρ_t A_t , clip(ρ_t, 1−ε, 1+ε) A_t )
    (7.3)  L^V(φ) = ½ mean_t max( (V_φ − y_t)² , (V_old + clip(V_φ − V_old, −ε_v, ε_v) − y_t)² )
    (7.4)  L = L^CLIP + c_v L^V − c_H H̄

with A_t by GAE(λ) and y_t = A_t + V_old(s_t) exactly as in A2C (:mod:`pglab.algos.a2c`).
At θ = θ_old, ρ = 1 and ∇L^CLIP = −(1/B) Σ A_t ∇log π: one epoch with one minibatch is
A2C. Re-using the batch for more steps makes the gradient biased — the samples come from
π_old, not from the current π_θ; ρ corrects for that (importance sampling) and the clip
stops correcting once ρ leaves [1−ε, 1+ε] on the side that would increase the objective:
the min then selects the constant branch and the token's gradient is zero.

Defaults and deviations (sources: the paper; Huang et al., "The 37 implementation details
of PPO", ICLR blog track 2022; Huang et al., "The N implementation details of RLHF with PPO", 2024):

1. ε = 0.2, 4 epochs × 4 minibatches, GAE λ = 0.95, value clipping ε_v = 0.2,
   max gradient norm 1.0 (the 37 details: 0.5), c_v = 0.5: the 37 details' Atari
   defaults. γ = 1 (RLHF: episodes are short and the objective undiscounted).
2. The ratio is taken against the log-probs recorded *at sampling time* (detached):
   exactly π_old. (The RLHF implementations recompute them in a forward pass, because their
   sampler's logits differ from the training pass; pglab's agree to rounding.)
3. Advantages are whitened once over the whole batch (the RLHF detail), not per minibatch
   (the 37 details): minibatches then share one scale. ``normalize_advantages=False``
   keeps the plain GAE advantages.
4. Per-token losses are summed over a sequence and averaged over the minibatch, as in
   pglab's REINFORCE (the RLHF code takes a token mean; see ``grpo.aggregate``).
5. Early stop (off by default, as in the 37 details): before each minibatch step the
   approximate KL(π_old ‖ π_θ) on that minibatch is estimated with k3 (:mod:`pglab.kl`,
   r = π_θ/π_old on tokens from π_old: mean of (ρ − 1) − log ρ over valid tokens); above
   ``target_kl`` the update ends there.
6. ``kl_coef`` > 0 puts β·k1 against ``train(..., reference=...)`` in the reward (the RLHF placement).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .. import checks
from ..advantages import explained_variance, gae, masked_mean, whiten
from ..kl import k3
from ..rollout import sample, token_logprobs
from .common import apply_update, check_rewards, rollout_stats
from .reinforce import kl_to_reference

MAX_EPOCHS = 100
"""Most passes over one batch a config accepts."""


def open_unit(name: str, value: object) -> float:
    """A float strictly between 0 and 1 (a clip range ε)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return float(value)


def check_minibatches(batch_size: int, minibatches: object, rows: str = "batch_size") -> int:
    """Minibatches ≥ 1 that split the batch into equal parts."""
    minibatches = checks.positive_int("minibatches", minibatches, maximum=batch_size)
    if batch_size % minibatches:
        raise ValueError(f"minibatches must divide {rows}={batch_size} into equal parts, got {minibatches}")
    return minibatches


@dataclass
class PPOConfig(checks.Validated):
    """Hyper-parameters of PPO."""
    batch_size: int = 64
    """Completions sampled per batch (B); each batch is used for ``epochs × minibatches`` updates."""
    epochs: int = 4
    """Passes over each batch, in [1, 100]."""
    minibatches: int = 4
    """Minibatches per epoch (≥ 1, must divide batch_size): one optimizer step each."""
    clip_eps: float = 0.2
    """ε in (0, 1): the ratio's trust region [1 − ε, 1 + ε]."""
    value_clip: float | None = 0.2
    """ε_v > 0 for the clipped value loss (Eq. 7.3); None: the plain regression of A2C."""
    target_kl: float | None = None
    """Stop the batch's updates when the approximate KL(π_old ‖ π_θ) (k3) exceeds this; None: never."""
    gamma: float = 1.0
    """Discount γ in [0, 1]."""
    gae_lambda: float = 0.95
    """λ in [0, 1] of GAE (Eq. 5.4)."""
    value_coef: float = 0.5
    """c_v ≥ 0, weight of the critic's loss."""
    entropy_coef: float = 0.0
    """c_H ≥ 0, weight of the entropy bonus."""
    normalize_advantages: bool = True
    """Whiten advantages over the batch (mean 0, std 1) before the epochs."""
    kl_coef: float = 0.0
    """β ≥ 0: per-token penalty β·(log π − log π_ref) in the reward, against ``train(..., reference=...)``."""
    max_grad_norm: float | None = 1.0
    """Clip the global gradient norm of each minibatch step (None: no clipping)."""

    def __post_init__(self) -> None:
        self.batch_size = checks.positive_int("batch_size", self.batch_size, maximum=checks.MAX_BATCH)
        self.epochs = checks.positive_int("epochs", self.epochs, maximum=MAX_EPOCHS)
        self.minibatches = check_minibatches(self.batch_size, self.minibatches)
        self.clip_eps = open_unit("clip_eps", self.clip_eps)
        if self.value_clip is not None:
            self.value_clip = checks.positive_float("value_clip", self.value_clip)
        if self.target_kl is not None:
            self.target_kl = checks.positive_float("target_kl", self.target_kl)
        self.gamma = checks.unit_interval("gamma", self.gamma)
        self.gae_lambda = checks.unit_interval("gae_lambda", self.gae_lambda)
        self.value_coef = checks.non_negative_float("value_coef", self.value_coef)
        self.entropy_coef = checks.entropy_coef("entropy_coef", self.entropy_coef)
        self.normalize_advantages = checks.boolean("normalize_advantages", self.normalize_advantages)
        self.kl_coef = checks.non_negative_float("kl_coef", self.kl_coef)
        if self.max_grad_norm is not None:
            self.max_grad_norm = checks.positive_float("max_grad_norm", self.max_grad_norm)


def clipped_surrogate(logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor,
                      clip_eps: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Per-token −min(ρA, clip(ρ, 1−ε, 1+ε)A) (B, T) (Eq. 7.2, not yet aggregated), and the
    ratio's statistics: ``clip_frac`` (share of valid tokens with |ρ − 1| > ε), ``approx_kl``
    (mean k3 estimate of KL(π_old ‖ π_θ) per token) and ``ratio_dev`` (max |ρ − 1|)."""
    log_ratio = (logp - old_logp.detach()) * mask
    ratio = torch.exp(log_ratio)                                                 # ρ_t (Eq. 7.1)
    unclipped = ratio * adv.detach()                                             # ρ A
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv.detach()             # clip(ρ, 1−ε, 1+ε) A
    per_token = -torch.min(unclipped, clipped) * mask                            # −min(…)
    with torch.no_grad():
        n = mask.sum().clamp_min(1.0)
        outside = ((ratio - 1).abs() > clip_eps).float() * mask
        approx_kl = k3(old_logp, logp, mask)                                     # (ρ − 1) − log ρ, samples from π_old
        stats = {"clip_frac": (outside.sum() / n).item(), "approx_kl": (approx_kl.sum() / n).item(),
                 "ratio_dev": ((ratio - 1).abs() * mask).max().item()}
    return per_token, stats


def value_loss(values: torch.Tensor, old_values: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
               clip: float | None) -> torch.Tensor:
    """Eq. (7.3): ½ mean over valid tokens of max((V − y)², (V_old + clip(V − V_old, −ε_v, ε_v) − y)²);
    ``clip=None`` is the plain regression ½ mean (V − y)² of A2C. Where the clipped branch is larger and
    V has left [V_old − ε_v, V_old + ε_v], the token's gradient is zero."""
    err = (values - targets.detach()) ** 2                                        # (V − y)²
    if clip is not None:
        clipped = old_values.detach() + (values - old_values.detach()).clamp(-clip, clip)
        err = torch.max(err, (clipped - targets.detach()) ** 2)                  # the pessimistic of the two
    return 0.5 * masked_mean(err, mask)


def minibatch_epochs(policy, optimizer: torch.optim.Optimizer, n_rows: int, epochs: int, minibatches: int,
                     generator: torch.Generator, loss_fn: Callable[[torch.Tensor], tuple[torch.Tensor, dict]],
                     max_grad_norm: float | None, target_kl: float | None = None) -> dict[str, float]:
    """The inner loop shared by PPO and the group algorithms: ``epochs`` passes over the batch, each
    in ``minibatches`` shuffled parts, one optimizer step per part. ``loss_fn(rows)`` returns the
    minibatch's loss and its statistics (with ``approx_kl``). Returns the means of the statistics,
    the number of steps taken, whether the KL stopped them, the first minibatch's max |ρ − 1| and
    the approximate KL of the last minibatch looked at (the one that stopped the loop, if any)."""
    totals: dict[str, float] = {}
    updates, stopped, first_dev, last_kl = 0, False, float("nan"), float("nan")
    size = n_rows // minibatches
    for _ in range(epochs):
        order = torch.randperm(n_rows, generator=generator) if minibatches > 1 else torch.arange(n_rows)
        for rows in order.split(size):
            loss, stats = loss_fn(rows)
            if updates == 0:
                first_dev = stats["ratio_dev"]                                   # 0 up to rounding: θ = θ_old
            last_kl = stats["approx_kl"]
            if target_kl is not None and stats["approx_kl"] > target_kl:
                stopped = True
                break
            stats["grad_norm"] = apply_update(optimizer, loss, policy.parameters(), max_grad_norm)
            updates += 1
            for key, value in stats.items():
                totals[key] = totals.get(key, 0.0) + value
        if stopped:
            break
    means = {key: value / max(updates, 1) for key, value in totals.items()}
    means.pop("ratio_dev", None)
    return {**means, "updates": float(updates), "stopped_early": float(stopped), "ratio_dev/first": first_dev,
            "approx_kl/last": last_kl}


def step(policy, optimizer: torch.optim.Optimizer, task, config: PPOConfig,
         generator: torch.Generator, state: dict) -> dict[str, float]:
    """One PPO batch: sample, GAE, then ``epochs × minibatches`` clipped updates; returns its statistics."""
    if not policy.has_value:
        raise ValueError("PPO needs a critic: build the policy with value_head='shared' or 'separate'")
    # 1. sample (π_old)
    prompts = task.sample_prompts(config.batch_size, generator).to(policy.device)
    ro = sample(policy, prompts, task.max_new_tokens, generator=generator)
    # 2. rewards
    task_rewards = task.reward(prompts, ro.completion_ids, ro.mask).to(policy.device)   # (B, T)
    check_rewards(task_rewards, task)
    kl = kl_to_reference(state, prompts, ro) if config.kl_coef > 0 else torch.zeros_like(task_rewards)
    rewards = task_rewards - config.kl_coef * kl                                        # KL in the reward
    # 3. advantages and critic targets, fixed for all epochs
    adv = gae(rewards, ro.values, ro.mask, config.gamma, config.gae_lambda)             # Eq. (5.4)
    targets = (adv + ro.values) * ro.mask                                               # y_t = A_t + V_old(s_t)
    if config.normalize_advantages:
        adv = whiten(adv, ro.mask)

    # 4. loss of one minibatch
    def loss_fn(rows: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        rows = rows.to(policy.device)
        mask = ro.mask[rows]
        out = token_logprobs(policy, prompts[rows], ro.completion_ids[rows])
        per_token, stats = clipped_surrogate(out.logprobs, ro.old_logprobs[rows], adv[rows], mask, config.clip_eps)
        policy_loss = per_token.sum(1).mean()                                           # Eq. (7.2)
        v_loss = value_loss(out.values, ro.values[rows], targets[rows], mask, config.value_clip)   # Eq. (7.3)
        entropy = masked_mean(out.entropy, mask)
        total = policy_loss + config.value_coef * v_loss - config.entropy_coef * entropy   # Eq. (7.4)
        return total, {**stats, "loss/policy": policy_loss.item(), "loss/value": v_loss.item(),
                       "loss/total": total.item()}

    # 5. updates
    inner = minibatch_epochs(policy, optimizer, config.batch_size, config.epochs, config.minibatches, generator,
                             loss_fn, config.max_grad_norm, config.target_kl)
    # 6. stats
    return {**rollout_stats(task_rewards, adv, ro.mask, ro.entropy), **inner, "kl": kl.sum(1).mean().item(),
            "explained_variance": explained_variance(ro.values, targets, ro.mask)}
