"""A2C: advantage actor-critic with one-step TD, n-step or GAE(λ) advantages.

Key equations (numbered as in chapter 05):

    (5.1)  δ_t = r_t + γ V_φ(s_{t+1}) − V_φ(s_t)                  (TD error)
    (5.2)  φ ← φ − α_φ (V_φ(s_t) − y_t) ∇_φ V_φ(s_t)               (critic: gradient step on ½(V_φ − y_t)²)
    (5.3)  G_t^(n) = Σ_{k<n} γ^k r_{t+k} + γ^n V_φ(s_{t+n})         (n-step return)
    (5.4)  A_t = Σ_k (γλ)^k δ_{t+k}                               (GAE(λ))
    (5.5)  L(θ, φ) = −(1/B) Σ_i Σ_t A_{i,t} log π_θ(a_{i,t}|s_{i,t})
                     + c_v · ½ mean_{i,t} (V_φ(s_{i,t}) − y_{i,t})²  − c_H · H̄

over a batch of B completions i = 1..B. The critic's target is
y_t = A_t + V_φ(s_t), held fixed: the λ-return for GAE (the Monte Carlo return
at λ = 1, the one-step TD target r_t + γV(s_{t+1}) at λ = 0) or the n-step
return G_t^(n). It is a *regression by gradient descent* on (V − y)² (Eq. 5.2,
step size α_φ; β is the KL coefficient elsewhere in pglab) — not a step on the
squared error itself, and not towards the immediate reward r_t: chapter 05
measures that a critic fitted on r_t is worse than a constant against the true
V^π and makes the one-step advantage more biased.

Choices and deviations:

1. V after the last valid token (EOS or the horizon) is 0: the episode ends there.
2. λ < 1 or n < T bootstrap from an imperfect critic: lower variance, some bias.
3. Values used for the advantages come from the rollout (no grad); the critic's
   loss uses values recomputed with grad — the same numbers at the same θ.
4. One optimizer for actor and critic; ``value_head="separate"`` keeps their
   features apart, ``"shared"`` lets the critic shape the policy's trunk.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import checks
from ..advantages import explained_variance, gae, nstep_returns, whiten
from ..rollout import sample, token_logprobs
from .common import apply_update, check_rewards, rollout_stats, value_loss
from .reinforce import loss as policy_loss

ADVANTAGES = ("gae", "nstep")


@dataclass
class A2CConfig(checks.Validated):
    """Hyper-parameters of A2C."""
    batch_size: int = 64
    """Completions sampled per update (B)."""
    gamma: float = 1.0
    """Discount γ in [0, 1]; our episodes are short, so 1 keeps the objective undiscounted."""
    gae_lambda: float | None = None
    """λ in [0, 1] for advantage="gae" (default 0.95): 0 is the one-step TD advantage, 1 the Monte Carlo
    advantage G_t − V(s_t). An error with advantage="nstep", which does not use it."""
    advantage: str = "gae"
    """"gae" (uses gae_lambda) or "nstep" (uses n_steps)."""
    n_steps: int | None = None
    """n ≥ 1 of the n-step return for advantage="nstep" (default 1, one-step TD; any n ≥ T is Monte Carlo).
    An error with advantage="gae", which does not use it."""
    value_coef: float = 0.5
    """c_v ≥ 0, weight of the critic's regression loss."""
    entropy_coef: float = 0.0
    """c_H ≥ 0, weight of the entropy bonus."""
    normalize_advantages: bool = False
    """Whiten advantages over the batch before the loss."""
    max_grad_norm: float | None = 1.0
    """Clip the global gradient norm (None: no clipping)."""

    def __post_init__(self) -> None:
        self.batch_size = checks.positive_int("batch_size", self.batch_size, maximum=checks.MAX_BATCH)
        self.gamma = checks.unit_interval("gamma", self.gamma)
        checks.choice("advantage", self.advantage, ADVANTAGES)
        unused = "n_steps" if self.advantage == "gae" else "gae_lambda"
        if getattr(self, unused) is not None:
            other = "nstep" if unused == "n_steps" else "gae"
            raise ValueError(f"{unused} does not apply to advantage={self.advantage!r} (it is for advantage={other!r})")
        if self.advantage == "gae":
            self.gae_lambda = checks.unit_interval("gae_lambda", 0.95 if self.gae_lambda is None else self.gae_lambda)
        else:
            self.n_steps = checks.positive_int("n_steps", 1 if self.n_steps is None else self.n_steps)
        self.normalize_advantages = checks.boolean("normalize_advantages", self.normalize_advantages)
        self.value_coef = checks.non_negative_float("value_coef", self.value_coef)
        self.entropy_coef = checks.entropy_coef("entropy_coef", self.entropy_coef)
        if self.max_grad_norm is not None:
            self.max_grad_norm = checks.positive_float("max_grad_norm", self.max_grad_norm)


def advantages(config: A2CConfig, rewards: torch.Tensor, values: torch.Tensor,
               mask: torch.Tensor) -> torch.Tensor:
    """A_t by GAE(λ) (Eq. 5.4) or by the n-step return minus V (Eq. 5.3)."""
    if config.advantage == "gae":
        return gae(rewards, values, mask, config.gamma, config.gae_lambda)
    return (nstep_returns(rewards, values, mask, config.gamma, config.n_steps) - values) * mask


def step(policy, optimizer: torch.optim.Optimizer, task, config: A2CConfig,
         generator: torch.Generator, state: dict) -> dict[str, float]:
    """One A2C update; returns its statistics."""
    if not policy.has_value:
        raise ValueError("A2C needs a critic: build the policy with value_head='shared' or 'separate'")
    # 1. sample
    prompts = task.sample_prompts(config.batch_size, generator).to(policy.device)
    ro = sample(policy, prompts, task.max_new_tokens, generator=generator)
    # 2. rewards
    rewards = task.reward(prompts, ro.completion_ids, ro.mask).to(policy.device)       # (B, T)
    check_rewards(rewards, task)
    # 3. advantages
    adv = advantages(config, rewards, ro.values, ro.mask)                              # Eq. (5.4)
    targets = (adv + ro.values) * ro.mask                                              # y_t = A_t + V(s_t)
    if config.normalize_advantages:
        adv = whiten(adv, ro.mask)
    # 4. loss
    out = token_logprobs(policy, prompts, ro.completion_ids)
    total, stats = policy_loss(out.logprobs, adv, ro.mask, out.entropy, config.entropy_coef)
    v_loss = value_loss(out.values, targets, ro.mask)
    total = total + config.value_coef * v_loss                                         # Eq. (5.5)
    # 5. update
    grad_norm = apply_update(optimizer, total, policy.parameters(), config.max_grad_norm)
    # 6. stats
    return {**rollout_stats(rewards, adv, ro.mask, out.entropy), **stats, "loss/value": v_loss.item(),
            "loss/total": total.item(), "grad_norm": grad_norm,
            "explained_variance": explained_variance(ro.values, targets, ro.mask)}


def fit_critic(policy, task, *, steps: int = 200, batch_size: int = 64, lr: float = 1e-2,
               gamma: float = 1.0, seed: int = 0) -> list[float]:
    """Policy evaluation: regress V on the Monte Carlo return G_t of the *current* policy.

    Only the critic's own parameters move (the value head, and the critic trunk
    when it is separate), so the actor — and with it ∇J — stays exactly as it was.
    Returns the value loss per step.
    """
    from ..advantages import reward_to_go
    params = list(policy.critic_parameters().values())
    if not params:
        raise ValueError("fit_critic needs a policy with a value head")
    steps = checks.positive_int("steps", steps)
    optimizer = torch.optim.Adam(params, lr=checks.learning_rate("lr", lr))
    generator, losses = torch.Generator().manual_seed(seed), []
    for _ in range(steps):
        prompts = task.sample_prompts(batch_size, generator).to(policy.device)
        ro = sample(policy, prompts, task.max_new_tokens, generator=generator)
        rewards = task.reward(prompts, ro.completion_ids, ro.mask).to(policy.device)
        targets = reward_to_go(rewards, ro.mask, gamma)
        ids = torch.cat([prompts, ro.completion_ids[:, :-1]], 1)
        loss = value_loss(policy.values(ids)[:, prompts.shape[1] - 1:], targets, ro.mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
