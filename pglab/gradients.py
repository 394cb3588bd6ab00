"""How good is a gradient estimator? Bias, variance, SNR and cosine against the exact gradient.

The unit of measurement is **one batch gradient exactly as training computes
it** — baselines are computed within the batch — repeated over many independent
batches. Each batch gradient is

    ĝ = (1/B) Σ_b Σ_t w_{b,t} ∇ log π_θ(a_{b,t} | s_{b,t}),

where the weights w (returns, advantages) come from the estimator. Because w is
fixed once the batch is drawn, ĝ is the mean of *per-sample* gradients
∇ Σ_t w_{b,t} log π_θ, which ``torch.func`` computes for thousands of samples in
one vectorised call (vmap over grad of a functional_call), with a plain loop as
fallback.

Reported per estimator, each with a standard error (bootstrap over batches):

* ``bias``      ‖E ĝ − ∇J‖ (the mean over R batches still carries noise ≈ √(variance / R),
                reported as ``noise_floor``);
* ``variance``  tr Cov[ĝ], the total variance of one batch gradient;
* ``snr``       ‖E ĝ‖² / tr Cov[ĝ] (‖E ĝ‖² estimated without its noise term);
* ``cosine``    mean over batches of cos(ĝ, ∇J): how well one update points uphill.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from . import checks
from .advantages import BASELINES, RETURNS, gae
from .algos.common import baseline_inputs, check_group_size, grouped_prompts
from .rollout import sample, token_logprobs


def flat_grad(value: torch.Tensor, params: dict[str, torch.nn.Parameter]) -> torch.Tensor:
    """∇ ``value`` with respect to ``params``, flattened into one vector (zeros where unused)."""
    ps = list(params.values())
    grads = (torch.autograd.grad(value, ps, allow_unused=True) if value.requires_grad else [None] * len(ps))
    return torch.cat([torch.zeros_like(p).flatten() if g is None else g.flatten() for p, g in zip(ps, grads)])


def policy_parameters(policy) -> dict[str, torch.nn.Parameter]:
    """The actor's parameters θ — the ones ∇J is taken with respect to."""
    return policy.actor_parameters()


@dataclass(frozen=True)
class Estimator:
    """A policy-gradient estimator: which weight multiplies each token's score ∇ log π."""
    returns: str = "reward_to_go"
    """"total" (whole-episode return), "reward_to_go", "reward_so_far" (the article) or "gae"."""
    baseline: str = "none"
    """A name in ``pglab.advantages.BASELINES`` (ignored for "gae", whose baseline is the critic)."""
    gamma: float = 1.0
    """Discount γ used by the weights. Compare "reward_to_go" with γ < 1 against the exact ∇J or ∇J_γ
    (``exact.gradient(..., gamma)``): it is unbiased for neither; "discounted_reward_to_go" is unbiased for ∇J_γ."""
    gae_lambda: float = 1.0
    """λ for returns="gae"."""
    group_size: int = 1
    """Samples per prompt, for the group baselines."""

    def __post_init__(self) -> None:
        checks.choice("returns", self.returns, [*RETURNS, "gae"])
        checks.choice("baseline", self.baseline, list(BASELINES))
        checks.unit_interval("gamma", self.gamma)
        checks.unit_interval("gae_lambda", self.gae_lambda)
        checks.positive_int("group_size", self.group_size)


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
}
"""Named estimators; ``a2c`` and ``value`` need a policy with a value head."""


def sample_weights(est: Estimator, policy, task, batch_size: int, generator: torch.Generator,
                   state: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw one batch and return ``(prompt_ids, completion_ids, weights (B, T))``."""
    check_group_size(est.baseline, batch_size, est.group_size)
    prompts = grouped_prompts(task, batch_size, est.group_size, generator).to(policy.device)
    ro = sample(policy, prompts, task.max_new_tokens, generator=generator)
    rewards = task.reward(prompts, ro.completion_ids, ro.mask).to(policy.device)
    if est.returns == "gae":
        if ro.values is None:
            raise ValueError("returns='gae' needs a policy with a value head")
        return prompts, ro.completion_ids, gae(rewards, ro.values, ro.mask, est.gamma, est.gae_lambda)
    returns_fn = RETURNS[est.returns]
    returns = returns_fn(rewards, ro.mask, est.gamma)
    inputs = baseline_inputs(est.baseline, policy, task, ro, returns, returns_fn, est.gamma,
                             est.group_size, state, generator)
    return prompts, ro.completion_ids, BASELINES[est.baseline](inputs)


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
    reference — one ``torch.autograd.grad`` per sample — and the fallback if vmap fails.
    """
    checks.choice("method", method, ["vmap", "loop"])
    params = policy_parameters(policy)
    if method == "vmap":
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
                    seed: int = 0, method: str = "vmap") -> torch.Tensor:
    """R = ``n_batches`` independent batch gradients of J (ascent direction), shape (R, P_θ).

    ``method``: "vmap" or "loop" assemble them from per-sample gradients; "batch"
    takes one backward pass per batch (the same numbers, best for large models).
    """
    est = ESTIMATORS[checks.choice("estimator", est, list(ESTIMATORS))] if isinstance(est, str) else est
    batch_size = checks.positive_int("batch_size", batch_size)
    n_batches = checks.positive_int("n_batches", n_batches, minimum=2)
    checks.choice("method", method, ["vmap", "loop", "batch"])
    generator, state = torch.Generator().manual_seed(seed), {}
    batches = [sample_weights(est, policy, task, batch_size, generator, state) for _ in range(n_batches)]
    if method == "batch":       # one backward per batch: cheapest when per-sample gradients are not needed
        return torch.stack([_batch_gradient(policy, *(t.detach() for t in batch)) for batch in batches])
    prompts, completions, weights = (torch.cat(parts) for parts in zip(*batches))
    per_sample = per_sample_gradients(policy, prompts, completions, weights.detach(), method)
    return per_sample.view(n_batches, batch_size, -1).mean(1)


def _batch_gradient(policy, prompts: torch.Tensor, completions: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(1/B) Σ_b Σ_t w_{b,t} ∇ log π_θ(a_{b,t}|s_{b,t}) by a single backward pass, flattened."""
    logprobs = token_logprobs(policy, prompts, completions).logprobs
    return flat_grad((weights * logprobs).sum(1).mean(), policy_parameters(policy))


@dataclass
class GradientReport:
    """Statistics of one estimator's batch gradients against the exact gradient."""
    name: str
    bias: float
    bias_se: float
    noise_floor: float
    variance: float
    variance_se: float
    snr: float
    snr_se: float
    cosine: float
    cosine_se: float
    n_batches: int

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _stats(g: torch.Tensor, exact: torch.Tensor) -> tuple[float, float, float]:
    R = g.shape[0]
    mean = g.mean(0)
    variance = g.var(0, unbiased=True).sum()
    signal = (mean.pow(2).sum() - variance / R).clamp_min(0.0)      # ‖E ĝ‖² without its noise term
    return (mean - exact).norm().item(), variance.item(), (signal / variance).item()


def report(name: str, grads: torch.Tensor, exact: torch.Tensor, n_boot: int = 200, seed: int = 0) -> GradientReport:
    """Bias, variance, SNR (bootstrap standard errors) and cosine (its standard error) of ``grads`` (R, P)."""
    grads, exact = grads.double(), exact.double().to(grads.device)
    R = grads.shape[0]
    bias, variance, snr = _stats(grads, exact)
    gen = torch.Generator().manual_seed(seed)
    boot = torch.tensor([_stats(grads[torch.randint(R, (R,), generator=gen)], exact) for _ in range(n_boot)])
    cos = F.cosine_similarity(grads, exact[None], dim=1)
    return GradientReport(name, bias, boot[:, 0].std().item(), math.sqrt(variance / R), variance,
                          boot[:, 1].std().item(), snr, boot[:, 2].std().item(), cos.mean().item(),
                          (cos.std() / math.sqrt(R)).item(), R)


def z_scores(grads: torch.Tensor, target: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """z-statistic of the mean batch gradient against ``target`` along each row of ``directions``.

    For an unbiased estimator each z is approximately standard normal, so
    max |z| over k directions stays below Φ⁻¹(1 − α/2k) with probability 1 − α.
    """
    grads, target, directions = grads.double(), target.double(), directions.double()
    proj = grads @ directions.T                                       # (R, k)
    se = proj.std(0, unbiased=True) / math.sqrt(grads.shape[0])
    return (proj.mean(0) - directions @ target) / se


def bonferroni_threshold(k: int, alpha: float = 1e-3) -> float:
    """Φ⁻¹(1 − α / 2k): the two-sided bound for the largest of k z-scores."""
    return float(torch.special.ndtri(torch.tensor(1 - alpha / (2 * k), dtype=torch.float64)))


def format_table(reports: list[GradientReport]) -> str:
    """A plain-text table, one row per estimator, values ± standard error."""
    head = f"{'estimator':<20}{'bias':>18}{'noise floor':>13}{'variance':>22}{'SNR':>18}{'cosine':>18}"
    lines = [head, "-" * len(head)]
    for r in reports:
        lines.append(f"{r.name:<20}{r.bias:>10.4f} ± {r.bias_se:<6.4f}{r.noise_floor:>12.4f} "
                     f"{r.variance:>12.4g} ± {r.variance_se:<8.2g}{r.snr:>9.3f} ± {r.snr_se:<6.3f}"
                     f"{r.cosine:>9.3f} ± {r.cosine_se:<6.3f}")
    return "\n".join(lines)
