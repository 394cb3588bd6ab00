"""Per-token estimators of KL(π ‖ π_ref) from completions sampled from π.

Names (chapter 00's convention, used everywhere in pglab): KL(π_θ ‖ π_ref) is the
**reverse** KL — the RLHF penalty, mode-seeking (it punishes π for putting mass where
π_ref puts little); KL(π_ref ‖ π_θ) is the **forward** KL (mass-covering).

The tokens a_t were sampled from π (the policy being trained, or the policy that
sampled them), and

    log r_t = log π_ref(a_t|s_t) − log π(a_t|s_t),        r_t = π_ref(a_t|s_t) / π(a_t|s_t).

The three estimators of J. Schulman's note "Approximating KL divergence" (2020),
written so that each one *estimates* KL(π ‖ π_ref) (not its negative):

    k1_t = −log r_t               = log π − log π_ref      unbiased, can be negative, high variance
    k2_t = ½ (log r_t)²                                    ≥ 0, biased (its mean is the f-divergence ½E[(log r)²])
    k3_t = (r_t − 1) − log r_t                             ≥ 0, unbiased, lower variance when π ≈ π_ref

(The issue that asked for these writes k1 = log r; with r = π_ref/π that is minus
the KL contribution, so pglab uses k1 = −log r, whose mean is +KL.)

Why k1 and k3 are unbiased for the *sequence* KL
KL(π ‖ π_ref) = E_{τ∼π}[Σ_t log π(a_t|s_t) − log π_ref(a_t|s_t)]:
the sum of k1 is exactly that integrand; k3 adds r_t − 1, whose mean given s_t is
Σ_a π(a|s_t) · π_ref(a|s_t)/π(a|s_t) − 1 = Σ_a π_ref(a|s_t) − 1 = 0 (a control variate).
k2 is ≈ KL only to second order in log r (its mean is ½E[(log r)²] ≠ KL): it is biased.
Tests check all three by enumerating every completion of the tiny problem
(``tests/test_kl_estimators.py``). Unbiased *only on-policy*: with tokens from an older
sampler μ (several epochs on one batch) E_μ[Σ k1] = E_μ[log π − log π_ref] ≠ KL(π ‖ π_ref);
``exact_moments(..., sampler=μ)`` measures that.

Differentiated *in the loss* through log π (GRPO), with the sampled tokens held fixed,
their expected gradients per state s are (chapter 07, Eq. 7.12):

    E_a∼π[∇k1] = E[∇log π(a|s)] = 0                  (only with a fixed weight per token, on-policy)
    E_a∼π[∇k2] = ∇ KL(π(·|s) ‖ π_ref(·|s))           the per-state reverse KL
    E_a∼π[∇k3] = ∇ KL(π_ref(·|s) ‖ π(·|s))           the per-state *forward* KL

k3 = (r − 1) − log r is computed as expm1(log r) − log r: for tiny |log r| the naive
exp(log r) − 1 − log r cancels catastrophically in float32 (−5.6e-8 at log r = 1e-4,
where the true value is +5e-9 ≥ 0).

Every function takes ``(logp, logp_ref, mask)`` of shape (B, T) and returns the
per-token estimate (B, T), zero where ``mask`` is 0. Sum over t for a sequence's
KL; it keeps the autograd graph of its inputs (what GRPO's KL-in-the-loss
differentiates, see :mod:`pglab.algos.grpo`).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from . import checks
from .exact import policy_completions
from .rollout import token_logprobs


def k1(logp: torch.Tensor, logp_ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """k1_t = −log r_t = log π(a_t|s_t) − log π_ref(a_t|s_t): unbiased, the integrand of KL itself."""
    return (logp - logp_ref) * mask                                   # −log r


def k2(logp: torch.Tensor, logp_ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """k2_t = ½ (log r_t)²: non-negative, biased (mean ½ E[(log r)²], equal to KL only to second order)."""
    log_r = (logp_ref - logp) * mask
    return 0.5 * log_r ** 2                                           # ½ (log r)²


def k3(logp: torch.Tensor, logp_ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """k3_t = (r_t − 1) − log r_t: non-negative (log x ≤ x − 1), unbiased (E_π[r − 1 | s] = 0)."""
    log_r = (logp_ref - logp) * mask                                  # 0 where masked, so r − 1 − log r = 0 there
    return (torch.expm1(log_r) - log_r) * mask                        # (r − 1) − log r, no cancellation at 0


ESTIMATORS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "k1": k1, "k2": k2, "k3": k3}
"""The per-token KL estimators by name; each is ``fn(logp, logp_ref, mask) -> (B, T)``."""
UNBIASED = ("k1", "k3")
"""The estimators whose expectation under π is exactly KL(π ‖ π_ref)."""


def estimate(name: str, logp: torch.Tensor, logp_ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sequence KL estimate Σ_t k_t (B,) with estimator ``name`` ("k1", "k2" or "k3")."""
    fn = ESTIMATORS[checks.choice("kl_estimator", name, list(ESTIMATORS))]
    return fn(logp, logp_ref, mask).sum(1)


@torch.no_grad()
def exact_moments(policy, reference, task, prompts: torch.Tensor, name: str,
                  sampler=None) -> tuple[float, float]:
    """(E[Σ_t k_t], Var[Σ_t k_t]) of one completion's estimate, by enumerating every completion
    of a tiny problem (see :mod:`pglab.exact`), with the prompt drawn uniformly from ``prompts``
    and τ ∼ π(·|prompt). Compare the mean with :func:`pglab.exact.kl_divergence`: equal for k1 and
    k3, not for k2. ``sampler`` (default: ``policy``) is the policy that drew the tokens: with an
    older sampler μ, as in a later epoch on one batch, the estimates use π's log-probs on μ's
    tokens and k1, k3 are no longer unbiased for KL(π ‖ π_ref)."""
    fn = ESTIMATORS[checks.choice("kl_estimator", name, list(ESTIMATORS))]
    ids, mask = policy_completions(policy, task.max_new_tokens)
    ids, mask = ids.to(policy.device), mask.to(policy.device)
    mean = second = 0.0
    for prompt in prompts.to(policy.device):
        rows = prompt.expand(len(ids), -1)
        logp = token_logprobs(policy, rows, ids).logprobs * mask
        logp_ref = token_logprobs(reference, rows.to(reference.device), ids.to(reference.device)).logprobs
        est = fn(logp, logp_ref.to(logp.device) * mask, mask).sum(1).double()   # Σ_t k_t per completion
        p = logp.sum(1).exp().double()                                           # π(τ | x)
        if sampler is not None:                                                  # μ(τ | x): who drew τ
            p = (token_logprobs(sampler, rows.to(sampler.device), ids.to(sampler.device)).logprobs
                 .to(logp.device) * mask).sum(1).exp().double()
        mean += float((p * est).sum())
        second += float((p * est ** 2).sum())
    n = len(prompts)
    mean, second = mean / n, second / n
    return mean, second - mean ** 2
