"""How good is a gradient estimator? Bias, variance, SNR and cosine against the exact gradient.

The unit of measurement is **one batch gradient exactly as training computes
it** — baselines are computed within the batch — repeated over many independent
batches. Each batch gradient is

    ĝ = (1/B) Σ_i Σ_t w_{i,t} ∇ log π_θ(a_{i,t} | s_{i,t}),     i = 1..B samples, t = 1..T tokens,

where the weights w (returns, advantages) come from the estimator. Because w is
fixed once the batch is drawn, ĝ is the mean of *per-sample* gradients
∇ Σ_t w_{i,t} log π_θ, which ``torch.func`` computes for thousands of samples in
one vectorised call (vmap over grad of a functional_call), with a plain loop as
fallback.

The statistics of those M batch gradients — error of the mean against ∇J (reported as ``bias``)
next to its noise floor, variance tr Cov[ĝ], SNR, cosine, z-tests and paired differences — live
in :mod:`pglab.statistics` and are re-exported here (``pg.gradients.report`` …).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from . import checks
from .autodiff import flat_grad  # noqa: F401 (pg.gradients.flat_grad, as the chapters call it)
from .advantages import BASELINES, RETURNS, gae, nstep_returns, reward_to_go
from .algos.common import baseline_inputs, check_group_size, grouped_prompts
from .algos.grpo import ADVANTAGES as GROUP_ADVANTAGES, AGGREGATIONS, aggregation_weights, group_advantages
from .exact import policy_completions
from .rollout import sample, token_logprobs
from .statistics import (GradientReport, _cpu64, bias_estimate, bonferroni_threshold, format_table,  # noqa: F401 (re-exported)
                         mean_interval, paired_difference, per_batch_statistics, report, t_quantile, z_scores)


def policy_parameters(policy) -> dict[str, torch.nn.Parameter]:
    """The actor's parameters θ — the ones ∇J is taken with respect to."""
    return policy.actor_parameters()


@dataclass(frozen=True)
class Estimator:
    """A policy-gradient estimator: which weight multiplies each token's score ∇ log π."""
    returns: str = "reward_to_go"
    """"total" (whole-episode return), "reward_to_go", "discounted_reward_to_go" (γ^t G_t, t counted from 0:
    Eq. 5.6), "reward_so_far" (the article), or one of the critic's advantages: "gae" (A_t = GAE(λ), Eq. 5.4) or "nstep"
    (A_t = G_t^(n) − V_φ(s_t), Eq. 5.3)."""
    baseline: str = "none"
    """A name in ``pglab.advantages.BASELINES`` (ignored for "gae" and "nstep", whose baseline is the critic)."""
    gamma: float = 1.0
    """Discount γ used by the weights. Compare "reward_to_go" with γ < 1 against the exact ∇J or ∇J_γ
    (``exact.gradient(..., gamma)``): it is unbiased for neither; "discounted_reward_to_go" is unbiased for ∇J_γ."""
    gae_lambda: float = 1.0
    """λ for returns="gae"."""
    n_steps: int = 1
    """n for returns="nstep": 1 is the one-step TD advantage (= GAE with λ = 0), n ≥ T the Monte Carlo
    advantage G_t − V_φ(s_t) (= GAE with λ = 1)."""
    group_size: int = 1
    """Samples per prompt, for the group baselines and ``group_advantage``."""
    group_advantage: str | None = None
    """"rloo", "grpo" or "dr_grpo": every token of completion i weighted by the group advantage A_i of its whole
    return R_γ(τ_i) (Eqs. 7.5–7.7 in :mod:`pglab.algos.grpo`) instead of ``returns`` − ``baseline``
    (leave those at their defaults); needs group_size ≥ 2."""
    aggregation: str = "sequence_sum"
    """How the loss combines tokens (:func:`pglab.algos.grpo.aggregation_weights`): "sequence_sum" (the weights as
    they are), "sequence_mean" (each completion's weights × 1/|o_i|, GRPO's) or "token_mean" (× B / Σ_j |o_j|)."""

    def __post_init__(self) -> None:
        checks.choice("returns", self.returns, [*RETURNS, *CRITIC_RETURNS])
        checks.choice("baseline", self.baseline, list(BASELINES))
        checks.unit_interval("gamma", self.gamma)
        checks.unit_interval("gae_lambda", self.gae_lambda)
        checks.positive_int("group_size", self.group_size)
        checks.positive_int("n_steps", self.n_steps)
        checks.choice("aggregation", self.aggregation, AGGREGATIONS)
        if self.group_advantage is not None:
            checks.choice("group_advantage", self.group_advantage, GROUP_ADVANTAGES)
            if self.returns != "reward_to_go" or self.baseline != "none":
                raise ValueError(f"returns and baseline do not apply with group_advantage={self.group_advantage!r} "
                                 f"(it weights tokens by the group advantage of the whole return); got "
                                 f"returns={self.returns!r}, baseline={self.baseline!r}")
            checks.positive_int("group_size", self.group_size, minimum=2)


CRITIC_RETURNS = ("gae", "nstep")
"""Estimator returns that are advantages built from the critic V_φ (they need a value head)."""


ESTIMATORS: dict[str, Estimator] = {
    "reinforce": Estimator(returns="total"),
    "reward_to_go": Estimator(),
    "batch_mean": Estimator(baseline="batch_mean"),
    "moving_average": Estimator(baseline="moving_average"),
    "leave_one_out": Estimator(baseline="leave_one_out", group_size=8),
    "group_norm": Estimator(baseline="group_norm", group_size=8),
    "greedy": Estimator(baseline="greedy"),
    "value": Estimator(baseline="value"),
    "a2c": Estimator(returns="gae", gae_lambda=0.9),
    "discounted": Estimator(gamma=0.8),
    "discounted_gamma_t": Estimator(returns="discounted_reward_to_go", gamma=0.8),
    "article": Estimator(returns="reward_so_far"),
    "rloo": Estimator(group_advantage="rloo", group_size=8),
    "dr_grpo": Estimator(group_advantage="dr_grpo", group_size=8),
    "grpo": Estimator(group_advantage="grpo", aggregation="sequence_mean", group_size=8),
}
"""Named estimators; ``a2c`` and ``value`` need a policy with a value head. ``rloo``, ``dr_grpo`` and ``grpo``
are the one-step gradients of :mod:`pglab.algos.grpo`'s presets (ρ = 1, no clip, no KL)."""


def sample_weights(est: Estimator, policy, task, batch_size: int, generator: torch.Generator,
                   state: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw one batch and return ``(prompt_ids, completion_ids, weights (B, T))``."""
    check_group_size(est.baseline, batch_size, est.group_size)
    return _weigh(est, policy, task, _draw(policy, task, batch_size, est.group_size, generator), state, generator)


def _draw(policy, task, batch_size: int, group_size: int, generator: torch.Generator):
    """One batch of samples: ``(prompt_ids, rollout, rewards (B, T))``."""
    prompts = grouped_prompts(task, batch_size, group_size, generator).to(policy.device)
    ro = sample(policy, prompts, task.max_new_tokens, generator=generator)
    return prompts, ro, task.reward(prompts, ro.completion_ids, ro.mask).to(policy.device)


def _weigh(est: Estimator, policy, task, batch, state: dict, generator: torch.Generator):
    """``(prompt_ids, completion_ids, weights (B, T))`` of one drawn batch under estimator ``est``."""
    prompts, ro, rewards = batch
    weights = _token_weights(est, policy, task, ro, rewards, state, generator)
    if est.aggregation != "sequence_sum":
        weights = weights * aggregation_weights(ro.mask, est.aggregation)            # 1/|o_i| or B/Σ|o|
    return prompts, ro.completion_ids, weights


@dataclass(frozen=True)
class Samples:
    """M batches drawn once by :func:`draw_samples`, to measure several estimators on the same samples."""
    batches: tuple
    """``(prompt_ids, rollout, rewards)`` per batch."""
    batch_size: int
    group_size: int
    policy_id: int
    """``id`` of the policy that drew them: its actor, its critic's values."""


def draw_samples(policy, task, *, batch_size: int = 16, n_batches: int = 200, seed: int = 0,
                 group_size: int = 1) -> Samples:
    """Draw the batches :func:`batch_gradients` would draw with this seed, once.

    ``batch_gradients(..., samples=s)`` then weighs the same completions for every estimator:
    sampling is most of a measurement's cost, and the differences between estimators become
    paired. The numbers are those of a fresh ``batch_gradients`` call with the same seed, except
    for the ``greedy`` baseline (its greedy decoding draws from the generator between batches,
    so a fresh call's later batches differ; the samples stay valid, just other ones).
    Keep the policy unchanged between drawing and measuring: the samples are its samples.
    """
    batch_size = checks.positive_int("batch_size", batch_size)
    n_batches = checks.positive_int("n_batches", n_batches, minimum=2)
    group_size = checks.positive_int("group_size", group_size)
    generator = torch.Generator().manual_seed(seed)
    batches = tuple(_draw(policy, task, batch_size, group_size, generator) for _ in range(n_batches))
    return Samples(batches, batch_size, group_size, id(policy))


def _token_weights(est: Estimator, policy, task, ro, rewards: torch.Tensor, state: dict,
                   generator: torch.Generator) -> torch.Tensor:
    """The weight w_{i,t} of each token's score before aggregation."""
    if est.group_advantage is not None:                                              # Eqs. (7.5)–(7.7)
        discount = est.gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype, device=rewards.device)
        R = (rewards * ro.mask * discount).sum(1)                                    # R_γ(τ_i)
        return group_advantages(R, est.group_size, est.group_advantage)[:, None] * ro.mask
    if est.returns in CRITIC_RETURNS:
        if ro.values is None:
            raise ValueError(f"returns={est.returns!r} needs a policy with a value head")
        if est.returns == "gae":                                                     # Eq. (5.4)
            return gae(rewards, ro.values, ro.mask, est.gamma, est.gae_lambda)
        targets = nstep_returns(rewards, ro.values, ro.mask, est.gamma, est.n_steps)  # Eq. (5.3)
        return (targets - ro.values) * ro.mask
    returns_fn = RETURNS[est.returns]
    returns = returns_fn(rewards, ro.mask, est.gamma)
    inputs = baseline_inputs(est.baseline, policy, task, ro, returns, returns_fn, est.gamma,
                             est.group_size, state, generator)
    return BASELINES[est.baseline](inputs)


def _weighted_logprob(policy, params, prompt, completion, weights):
    """Σ_t w_t log π_θ(a_t | s_t) for one sample (unbatched tensors)."""
    P = prompt.shape[-1]
    ids = torch.cat([prompt, completion[:-1]])[None]
    logits = functional_call(policy, params, (ids,))[0, P - 1:]             # (T, V)
    logp = F.log_softmax(logits, -1).gather(-1, completion[:, None]).squeeze(-1)
    return (weights * logp).sum()


def per_sample_gradients(policy, prompts: torch.Tensor, completions: torch.Tensor, weights: torch.Tensor,
                         method: str = "vmap", chunk_size: int | None = 512) -> torch.Tensor:
    """∇_θ Σ_t w_{n,t} log π_θ(a_{n,t}|s_{n,t}) for every sample n, flattened: (N, P_θ).

    ``method="vmap"`` vectorises with torch.func; ``"loop"`` is the plain
    reference — one ``torch.autograd.grad`` per sample — and the fallback if vmap fails
    or the policy says it cannot be vmapped (``policy.vmappable = False``, as :mod:`pglab.hf` does).
    """
    checks.choice("method", method, ["vmap", "loop"])
    params = policy_parameters(policy)
    if method == "vmap" and getattr(policy, "vmappable", True):     # an HF model (pglab.hf) loops
        detached = {n: p.detach() for n, p in params.items()}
        f = lambda p, x, y, w: _weighted_logprob(policy, p, x, y, w)  # noqa: E731
        policy.set_fused(False)                      # the fused RNN kernels do not vmap
        try:
            g = vmap(grad(f), in_dims=(None, 0, 0, 0), chunk_size=chunk_size)(detached, prompts, completions, weights)
            return torch.cat([g[n].flatten(1) for n in params], 1)
        except Exception as err:  # pragma: no cover - depends on torch internals
            warnings.warn(f"vmap failed ({err}); falling back to a loop", stacklevel=2)
        finally:
            policy.set_fused(True)
    rows = []
    for x, y, w in zip(prompts, completions, weights):
        logprobs = token_logprobs(policy, x[None], y[None]).logprobs[0]
        rows.append(flat_grad((w * logprobs).sum(), params))
    return torch.stack(rows)


def batch_gradients(policy, task, est: Estimator | str, *, batch_size: int = 16, n_batches: int = 200,
                    seed: int = 0, method: str = "vmap", samples: Samples | None = None) -> torch.Tensor:
    """M = ``n_batches`` independent batch gradients of J (ascent direction), shape (M, P_θ).

    ``method``: "vmap" or "loop" assemble them from per-sample gradients; "batch"
    takes one backward pass per batch (the same numbers, best for large models).
    ``samples`` (from :func:`draw_samples`, by this policy) replaces drawing: its batches
    set the batch size and number of batches, and ``batch_size``, ``n_batches`` and ``seed`` are unused.
    """
    est = ESTIMATORS[checks.choice("estimator", est, list(ESTIMATORS))] if isinstance(est, str) else est
    batch_size = checks.positive_int("batch_size", batch_size)
    n_batches = checks.positive_int("n_batches", n_batches, minimum=2)
    checks.choice("method", method, ["vmap", "loop", "batch"])
    generator, state = torch.Generator().manual_seed(seed), {}
    if samples is None:
        batches = [sample_weights(est, policy, task, batch_size, generator, state) for _ in range(n_batches)]
    else:
        _check_samples(samples, policy, est)
        batch_size, n_batches = samples.batch_size, len(samples.batches)
        batches = [_weigh(est, policy, task, batch, state, generator) for batch in samples.batches]
    if method == "batch":       # one backward per batch: cheapest when per-sample gradients are not needed
        return torch.stack([_batch_gradient(policy, *(t.detach() for t in batch)) for batch in batches])
    prompts, completions, weights = (torch.cat(parts) for parts in zip(*batches))
    per_sample = per_sample_gradients(policy, prompts, completions, weights.detach(), method)
    return per_sample.view(n_batches, batch_size, -1).mean(1)


def _check_samples(samples: Samples, policy, est: Estimator) -> None:
    if not isinstance(samples, Samples):
        raise ValueError(f"samples must come from pg.gradients.draw_samples, got {type(samples).__name__}")
    if samples.policy_id != id(policy):
        raise ValueError("samples were drawn by another policy: draw them with this one (draw_samples(policy, ...))")
    if samples.group_size != est.group_size:
        raise ValueError(f"samples were drawn with group_size={samples.group_size}; the estimator has "
                         f"group_size={est.group_size}: draw them with draw_samples(..., group_size={est.group_size})")
    check_group_size(est.baseline, samples.batch_size, est.group_size)


def _batch_gradient(policy, prompts: torch.Tensor, completions: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(1/B) Σ_i Σ_t w_{i,t} ∇ log π_θ(a_{i,t}|s_{i,t}) by a single backward pass, flattened."""
    logprobs = token_logprobs(policy, prompts, completions).logprobs
    return flat_grad((weights * logprobs).sum(1).mean(), policy_parameters(policy))


def exact_values(policy, task, prompts: torch.Tensor, gamma: float = 1.0
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The true value V^π(s_t) = E[G_t | s_t] of every state of a tiny problem, by enumeration.

    Returns ``(v_true, v_critic, weight)``, each (prompts × completions, T): the exact value,
    the critic's V_φ(s_t) (zeros without a value head) and how often the policy visits the state
    (p_θ(τ) on the valid tokens of τ, divided by the number of prompts). An independent yardstick
    for a critic: unlike the critic's own target y_t, it contains nothing of V_φ.
    """
    ids, mask = policy_completions(policy, task.max_new_tokens)
    ids, mask = ids.to(policy.device), mask.to(policy.device)
    v_true, v_critic, weight = [], [], []
    with torch.no_grad():
        for prompt in prompts.to(policy.device):
            rows = prompt.expand(len(ids), -1)
            out = token_logprobs(policy, rows, ids)
            p = (out.logprobs * mask).sum(1).exp()                                   # p_θ(τ | x)
            G = reward_to_go(task.reward(rows, ids, mask).to(policy.device), mask, gamma)
            w = p[:, None] * mask                                                     # visits of s_t
            v = torch.zeros_like(G)
            for t in range(ids.shape[1]):                    # states s_t = (x, a_<t): group by prefix
                state = (torch.unique(ids[:, :t], dim=0, return_inverse=True)[1] if t
                         else torch.zeros(len(ids), dtype=torch.long, device=ids.device))
                num = torch.zeros_like(p).index_add_(0, state, w[:, t] * G[:, t])
                den = torch.zeros_like(p).index_add_(0, state, w[:, t])
                v[:, t] = num[state] / den[state].clamp_min(1e-30)                     # E[G_t | s_t]
            v_true.append(v * mask)
            v_critic.append(torch.zeros_like(G) if out.values is None else out.values * mask)
            weight.append(w / len(prompts))
    return torch.cat(v_true), torch.cat(v_critic), torch.cat(weight)


def critic_explained_variance(policy, task, prompts: torch.Tensor, gamma: float = 1.0) -> float:
    """1 − E[(V_φ − V^π)²] / Var[V^π] over the states the policy visits, V^π exact (enumeration).

    1: the critic is the true value function; 0: no better than the best constant; negative: worse.
    """
    v_true, v_critic, w = exact_values(policy, task, prompts, gamma)
    w = w / w.sum()
    mean = (w * v_true).sum()
    return (1 - (w * (v_critic - v_true) ** 2).sum() / (w * (v_true - mean) ** 2).sum()).item()


def jacobian_asymmetry(field, params: dict[str, torch.nn.Parameter], u: torch.Tensor, v: torch.Tensor,
                       eps: float = 1e-3) -> tuple[float, float]:
    """(u·(D f) v, v·(D f) u) for a vector field f(θ) (flat, over ``params``), by central finite differences.

    A gradient field f = ∇F has a symmetric Jacobian (the Hessian of F), so the two agree up to
    finite-difference error for every u, v; clearly different means f is the gradient of no function.
    ``field()`` is evaluated with the parameters moved in place (and restored afterwards).
    """
    flat = list(params.values())

    def shifted(direction: torch.Tensor, step: float) -> torch.Tensor:
        with torch.no_grad():
            offset = 0
            for p in flat:
                p.add_(step * direction[offset:offset + p.numel()].view_as(p).to(p)); offset += p.numel()
        try:
            return _cpu64(field())
        finally:
            with torch.no_grad():
                offset = 0
                for p in flat:
                    p.sub_(step * direction[offset:offset + p.numel()].view_as(p).to(p)); offset += p.numel()

    u, v = _cpu64(u), _cpu64(v)
    dv = (shifted(v, eps) - shifted(v, -eps)) / (2 * eps)        # (D f) v
    du = (shifted(u, eps) - shifted(u, -eps)) / (2 * eps)        # (D f) u
    return (u @ dv).item(), (v @ du).item()
