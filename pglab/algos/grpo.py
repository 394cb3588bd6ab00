"""The group family: RLOO, GRPO and Dr. GRPO — K samples per prompt, the group as the baseline.

Draw B/K prompts, sample each K times, score every completion by its whole return
R_i = Σ_t γ^(t−1) r_t (γ = 1 by default), and give every token of completion i the same advantage A_i:

    (7.5)  RLOO     A_i = R_i − 1/(K−1) Σ_{j≠i} R_j                 (Ahmadian et al. 2024)
    (7.6)  GRPO     A_i = (R_i − mean_j R_j) / (std_j R_j + ε)      (Shao et al. 2024, DeepSeekMath)
    (7.7)  Dr.GRPO  A_i = R_i − mean_j R_j  = (K−1)/K · A_i^RLOO    (Liu et al. 2025, "Understanding R1-Zero-like training")

then minimise, over ``epochs × minibatches`` steps on the batch (PPO's clipped ratio ρ, Eq. 7.2),

    (7.8)  L = agg_i,t[ −min(ρ_t A_i, clip(ρ_t, 1−ε, 1+ε) A_i) + β k_t ] − c_H H̄,

where ``agg`` is the loss aggregation and k_t a KL estimator (:mod:`pglab.kl`) against π_ref:

* "sequence_sum":  (1/B) Σ_i Σ_t ℓ_i,t        — pglab's default: unbiased with RLOO, as REINFORCE;
* "token_mean":    Σ_i Σ_t ℓ_i,t / Σ_i |o_i|  — a mean over every token of the batch;
* "sequence_mean": (1/B) Σ_i (1/|o_i|) Σ_t ℓ_i,t — GRPO's per-sequence length normalisation.

What each choice does to the gradient (chapter 07 measures it against the exact ∇J):

1. RLOO's baseline leaves sample i out, so it is independent of sample i: with
   "sequence_sum" and one step, E[ĝ] = ∇J exactly.
2. Dr. GRPO's mean includes sample i; the identity in (7.7) makes its expected gradient
   (K−1)/K · ∇J — the true direction, shrunk by a constant that the learning rate absorbs.
   Liu et al. divide the token sum by a constant (the generation budget) instead of |o_i|:
   that is "sequence_sum" up to that constant.
3. GRPO's std division re-weights prompts by how mixed their outcomes are (a prompt that
   almost always succeeds gets a large advantage for its rare failure), and 1/|o_i| weights
   long completions' tokens less — a wrong answer is penalised less per token when it is
   long. Both bias the gradient away from ∇J. GRPO uses the sample std (K − 1), as TRL does; a group with
   equal returns gets A = 0.
4. KL placement: "reward" subtracts β Σ_t k_t (k1 by default: RLOO's and the RLHF choice)
   from R_i before the advantages — an unbiased estimate of ∇(J − β KL(π_θ‖π_ref)), the
   reverse KL; "loss" adds β k_t to the per-token loss (k3 by default: GRPO's choice, with the
   gradient of k3 taken through log π_θ). In the loss, with the states held fixed, k3's expected
   gradient is that of the per-state *forward* KL(π_ref‖π_θ), k2's that of the per-state
   reverse KL, and k1's is zero only with a fixed weight per token ("sequence_sum") on fresh
   samples — not with 1/|o_i|, nor on a batch from an older policy (chapter 07 §4). β = 0 by default: pglab
   has no SFT model to anchor to (DeepSeekMath used β = 0.04; Dr. GRPO drops the term) —
   pass ``train(..., reference=...)`` and ``kl_coef`` to use one.
5. Defaults: K = 8, one epoch and one minibatch: one policy update per batch (μ = 1 in
   DeepSeekMath's notation), where ρ = 1 and the clip is inactive; raise ``epochs`` and
   ``minibatches`` to re-use each batch PPO-style (ε = 0.2). No critic is trained.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from .. import checks, kl
from ..advantages import GROUP_ADVANTAGES as ADVANTAGES, GRPO_EPS, group_advantages, masked_mean   # the one definition
from ..rollout import sample, token_logprobs
from .common import check_rewards, grouped_prompts, rollout_stats
from .ppo import MAX_EPOCHS, check_minibatches, clipped_surrogate, minibatch_epochs, open_unit

AGGREGATIONS = ("sequence_sum", "token_mean", "sequence_mean")
KL_PLACEMENTS = ("loss", "reward")
# ADVANTAGES, GRPO_EPS and group_advantages (Eqs. 7.5–7.7, sample std, ε = 1e-4) live in pglab.advantages,
# the one definition shared with chapter 04's group_norm baseline; they stay importable from here.


def aggregation_weights(mask: torch.Tensor, how: str) -> torch.Tensor:
    """w_i (B, 1) such that the aggregated loss is (1/B) Σ_i w_i Σ_t ℓ_i,t (see the module docstring)."""
    checks.choice("aggregation", how, AGGREGATIONS)
    lengths = mask.sum(1, keepdim=True)                                        # |o_i|
    if how == "sequence_mean":
        return 1.0 / lengths.clamp_min(1.0)                                    # 1/|o_i|
    if how == "token_mean":
        return torch.full_like(lengths, mask.shape[0] / float(mask.sum().clamp_min(1.0)))   # B / Σ_j |o_j|
    return torch.ones_like(lengths)


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """The loss over a (mini)batch from per-token losses ℓ (B, T)."""
    return (aggregation_weights(mask, how) * (per_token * mask).sum(1, keepdim=True)).mean()


@dataclass
class GroupConfig(checks.Validated):
    """Hyper-parameters of the group family; :class:`RLOOConfig`, :class:`GRPOConfig` and
    :class:`DrGRPOConfig` are its presets (only their defaults differ)."""
    batch_size: int = 64
    """Completions per batch (B): B/K prompts, K samples each."""
    group_size: int = 8
    """K ≥ 2 samples per prompt; must divide batch_size."""
    advantage: str = "rloo"
    """"rloo" (Eq. 7.5), "grpo" (7.6) or "dr_grpo" (7.7)."""
    gamma: float = 1.0
    """Discount γ in [0, 1] of the whole return R_i = Σ_t γ^(t−1) r_t (1: the outcome reward as in the papers)."""
    aggregation: str = "sequence_sum"
    """"sequence_sum", "token_mean" or "sequence_mean" (GRPO's 1/|o_i|)."""
    epochs: int = 1
    """Passes over each batch, in [1, 100]."""
    minibatches: int = 1
    """Minibatches per epoch (≥ 1, must divide batch_size)."""
    clip_eps: float = 0.2
    """ε in (0, 1) of the clipped ratio; inactive at one epoch with one minibatch (ρ = 1)."""
    kl_coef: float = 0.0
    """β ≥ 0, the KL weight against ``train(..., reference=...)``."""
    kl_placement: str = "reward"
    """"reward" (β Σ_t k_t off R_i) or "loss" (β k_t in the per-token loss)."""
    kl_estimator: str | None = None
    """"k1", "k2" or "k3" (default k1 in the reward, k3 in the loss); an error when kl_coef = 0."""
    entropy_coef: float = 0.0
    """c_H ≥ 0, weight of the entropy bonus."""
    max_grad_norm: float | None = 1.0
    """Clip the global gradient norm of each step (None: no clipping)."""

    @property
    def kl_estimator_name(self) -> str:
        """The KL estimator in use: ``kl_estimator``, or k3 in the loss / k1 in the reward."""
        return self.kl_estimator or ("k3" if self.kl_placement == "loss" else "k1")

    def __post_init__(self) -> None:
        self.batch_size = checks.positive_int("batch_size", self.batch_size, maximum=checks.MAX_BATCH)
        self.group_size = checks.positive_int("group_size", self.group_size, minimum=2)
        if self.batch_size % self.group_size:
            raise ValueError(f"group_size must divide batch_size={self.batch_size}, got {self.group_size}")
        checks.choice("advantage", self.advantage, ADVANTAGES)
        self.gamma = checks.unit_interval("gamma", self.gamma)
        checks.choice("aggregation", self.aggregation, AGGREGATIONS)
        self.epochs = checks.positive_int("epochs", self.epochs, maximum=MAX_EPOCHS)
        self.minibatches = check_minibatches(self.batch_size, self.minibatches)
        self.clip_eps = open_unit("clip_eps", self.clip_eps)
        self.kl_coef = checks.non_negative_float("kl_coef", self.kl_coef)
        checks.choice("kl_placement", self.kl_placement, KL_PLACEMENTS)
        if self.kl_estimator is not None:
            if self.kl_coef == 0:
                raise ValueError(f"kl_estimator={self.kl_estimator!r} does not apply when kl_coef = 0 (no KL term)")
            checks.choice("kl_estimator", self.kl_estimator, list(kl.ESTIMATORS))
            if self.kl_placement == "reward" and self.kl_estimator != "k1":
                # Only k1 in the reward gives E[k1 ∇log π] = ∇KL(π‖π_ref) (the reverse KL); k2/k3 estimate the KL's
                # value, but as a reward their score-function gradient is another direction (chapter 07 §4: k3 is 79 % off).
                warnings.warn(f"kl_estimator={self.kl_estimator!r} in the reward does not follow ∇KL(π‖π_ref): only "
                              "k1 does (chapter 07 §4); use k1 in the reward, or kl_placement='loss'", stacklevel=3)
        self.entropy_coef = checks.entropy_coef("entropy_coef", self.entropy_coef)
        if self.max_grad_norm is not None:
            self.max_grad_norm = checks.positive_float("max_grad_norm", self.max_grad_norm)


@dataclass
class RLOOConfig(GroupConfig):
    """RLOO: leave-one-out advantages, summed tokens, KL in the reward (Ahmadian et al. 2024)."""
    advantage: str = "rloo"
    aggregation: str = "sequence_sum"
    kl_placement: str = "reward"


@dataclass
class GRPOConfig(GroupConfig):
    """GRPO: std-normalised advantages, per-sequence 1/|o|, KL (k3) in the loss (Shao et al. 2024)."""
    advantage: str = "grpo"
    aggregation: str = "sequence_mean"
    kl_placement: str = "loss"


@dataclass
class DrGRPOConfig(GroupConfig):
    """Dr. GRPO: GRPO without the std and without 1/|o| (Liu et al. 2025)."""
    advantage: str = "dr_grpo"
    aggregation: str = "sequence_sum"
    kl_placement: str = "loss"


def step(policy, optimizer: torch.optim.Optimizer, task, config: GroupConfig,
         generator: torch.Generator, state: dict) -> dict[str, float]:
    """One batch of the group family; returns its statistics."""
    # 1. sample: B/K prompts, K completions each (π_old)
    prompts = grouped_prompts(task, config.batch_size, config.group_size, generator).to(policy.device)
    ro = sample(policy, prompts, task.max_new_tokens, generator=generator)
    mask = ro.mask
    # 2. rewards, and the reference's log-probs if there is a KL term
    task_rewards = task.reward(prompts, ro.completion_ids, mask).to(policy.device)        # (B, T)
    check_rewards(task_rewards, task)
    discount = config.gamma ** torch.arange(mask.shape[1], dtype=mask.dtype, device=mask.device)
    returns = (task_rewards * mask * discount).sum(1)                                     # R_i = Σ_t γ^(t−1) r_t
    logp_ref, kl_fn = None, None
    if config.kl_coef > 0:
        reference = state.get("reference")
        if reference is None:
            raise ValueError("kl_coef > 0 needs a reference policy: train(..., reference=ref_policy)")
        with torch.no_grad():
            logp_ref = token_logprobs(reference, prompts.to(reference.device),
                                      ro.completion_ids.to(reference.device)).logprobs.to(policy.device) * mask
        kl_fn = kl.ESTIMATORS[config.kl_estimator_name]
        if config.kl_placement == "reward":
            returns = returns - config.kl_coef * kl_fn(ro.old_logprobs, logp_ref, mask).sum(1)   # R_i − β Σ_t k_t
    # 3. advantages, fixed for all epochs
    adv = group_advantages(returns, config.group_size, config.advantage)[:, None] * mask   # A_i on every token

    # 4. loss of one minibatch (Eq. 7.8)
    def loss_fn(rows: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        rows = rows.to(policy.device)
        m = mask[rows]
        out = token_logprobs(policy, prompts[rows], ro.completion_ids[rows])
        per_token, stats = clipped_surrogate(out.logprobs, ro.old_logprobs[rows], adv[rows], m, config.clip_eps)
        if kl_fn is not None and config.kl_placement == "loss":
            kl_tok = kl_fn(out.logprobs, logp_ref[rows], m)                                # k_t, with grad
            per_token = per_token + config.kl_coef * kl_tok                                # + β k_t
            stats["kl/loss"] = aggregate(kl_tok.detach(), m, config.aggregation).item()
        policy_loss = aggregate(per_token, m, config.aggregation)
        total = policy_loss - config.entropy_coef * masked_mean(out.entropy, m)
        return total, {**stats, "loss/policy": policy_loss.item(), "loss/total": total.item()}

    # 5. updates
    inner = minibatch_epochs(policy, optimizer, config.batch_size, config.epochs, config.minibatches,
                             generator, loss_fn, config.max_grad_norm)
    # 6. stats
    groups = task_rewards.mul(mask).sum(1).view(-1, config.group_size)
    stats = {**rollout_stats(task_rewards, adv, mask, ro.entropy), **inner,
             "groups/no_signal": (groups.amax(1) == groups.amin(1)).float().mean().item()}
    if logp_ref is not None:
        stats["kl"] = kl.k1(ro.old_logprobs, logp_ref, mask).sum(1).mean().item()           # unbiased KL(π‖π_ref)
    return stats
