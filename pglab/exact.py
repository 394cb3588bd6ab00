"""Exact J(θ) and ∇J(θ) by enumerating every completion of a tiny problem.

For a vocabulary of V tokens and a horizon of T, a completion is a string of
non-EOS tokens that either ends with EOS at some step k ≤ T or runs to the
horizon. There are Σ_{k=1..T} (V−1)^{k−1} + (V−1)^T of them (19,608 for V = 8,
T = 5). With every one of them in a batch,

    J(θ) = E_prompt Σ_τ p_θ(τ | prompt) R(τ),     p_θ(τ) = Π_t π_θ(a_t | s_t),

is a finite sum, and autograd through it gives the *true* gradient — the
yardstick every estimator in :mod:`pglab.gradients` is measured against.
Enumeration is refused above :data:`MAX_SEQUENCES` = 2¹⁸ candidate sequences
(|V|^T per prompt, times the number of prompts).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from . import checks
from .autodiff import flat_grad
from .rollout import token_logprobs
from .policies.protocol import eos_id as _eos, pad_id as _pad
from .vocab import EOS_ID, PAD_ID

MAX_SEQUENCES = 2 ** 18


def enumerate_completions(vocab_size: int, horizon: int, *, eos_id: int = EOS_ID,
                          pad_id: int = PAD_ID) -> tuple[torch.Tensor, torch.Tensor]:
    """Every completion as ``(ids (N, T), mask (N, T))``, ``pad_id`` after ``eos_id``.

    The ids default to pglab's vocabulary; pass a foreign policy's own (``policy.eos_id``,
    ``policy.pad_id``), or call :func:`policy_completions`."""
    V = checks.positive_int("vocab_size", vocab_size, minimum=3)
    T = checks.positive_int("horizon", horizon)
    if V ** T > MAX_SEQUENCES:
        raise ValueError(f"enumerating |V|^T = {V}^{T} = {V ** T:,} sequences exceeds the limit "
                         f"MAX_SEQUENCES = {MAX_SEQUENCES:,}; use a smaller vocabulary or horizon")
    body = [t for t in range(V) if t != eos_id]
    rows: list[list[int]] = []
    for k in range(T):                                    # k non-EOS tokens, then EOS
        rows += [[*prefix, eos_id] + [pad_id] * (T - k - 1) for prefix in itertools.product(body, repeat=k)]
    rows += [list(prefix) for prefix in itertools.product(body, repeat=T)]   # no EOS: runs to the horizon
    ids = torch.tensor(rows, dtype=torch.long)
    eos = (ids == eos_id).long()
    mask = ((eos.cumsum(1) - eos) == 0).float()
    return ids, mask


def policy_completions(policy, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`enumerate_completions` with the policy's own vocabulary size and end/pad ids."""
    return enumerate_completions(policy.vocab_size, horizon, eos_id=_eos(policy), pad_id=_pad(policy))


def sequence_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """R_γ(τ) = Σ_t γ^(t−1) r_t for each row (B,), tokens t = 1 … T (the first one undiscounted)."""
    discount = gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype, device=rewards.device)
    return (rewards * mask * discount).sum(1)


def _enumerated(policy, task, prompts: torch.Tensor, gamma: float = 1.0, rewarded_only: bool = False):
    """For each prompt: (log p_θ(τ) with grad, R(τ)) over every enumerated completion τ — or, with
    ``rewarded_only``, over those with R(τ) ≠ 0 only (all a sum Σ_τ p_θ(τ) R(τ) needs)."""
    checks.unit_interval("gamma", gamma)
    ids, mask = policy_completions(policy, task.max_new_tokens)
    if len(prompts) * policy.vocab_size ** task.max_new_tokens > MAX_SEQUENCES:
        raise ValueError(f"{len(prompts)} prompts × {policy.vocab_size}^{task.max_new_tokens} sequences "
                         f"exceed MAX_SEQUENCES = {MAX_SEQUENCES:,}; use fewer prompts")
    device = policy.device
    ids, mask = ids.to(device), mask.to(device)
    for prompt in prompts.to(device):
        p_rows = prompt.expand(len(ids), -1)
        with torch.no_grad():
            R = sequence_returns(task.reward(p_rows, ids, mask).to(device), mask, gamma)
        keep = R != 0 if rewarded_only and bool((R != 0).any()) else slice(None)    # τ with R = 0 add nothing to Σ p R
        seq_logp = (token_logprobs(policy, p_rows[keep], ids[keep]).logprobs * mask[keep]).sum(1)   # log p_θ(τ)
        yield seq_logp, R[keep]


def objective(policy, task, prompts: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """J(θ) (with grad): mean over ``prompts`` of Σ_τ p_θ(τ|prompt) R(τ), every τ enumerated."""
    rows = _enumerated(policy, task, prompts, gamma, rewarded_only=True)              # only τ with R(τ) ≠ 0 count
    total = sum((seq_logp.exp() * R).sum() for seq_logp, R in rows)
    return total / len(prompts)                                                      # Σ_τ p_θ(τ) R(τ)


def score_function_gradient(policy, task, prompts: torch.Tensor,
                            params: dict[str, torch.nn.Parameter] | None = None) -> torch.Tensor:
    """E_τ[∇ log p_θ(τ) R(τ)] computed exactly — the right-hand side of the policy gradient
    theorem. Equal to :func:`gradient` (the left-hand side) up to rounding."""
    total = sum((seq_logp.exp().detach() * R * seq_logp).sum()   # Σ_τ p(τ) R(τ) log p_θ(τ), p held fixed
                for seq_logp, R in _enumerated(policy, task, prompts))
    return flat_grad(total / len(prompts), params or policy.actor_parameters())


def expected_estimate(policy, task, prompts: torch.Tensor, returns: str = "reward_to_go", gamma: float = 1.0,
                      params: dict[str, torch.nn.Parameter] | None = None) -> torch.Tensor:
    """E_τ[Σ_t w_t ∇log π_θ(a_t|s_t)] exactly, for token weights w = ``RETURNS[returns](r, mask, γ)``.

    This is the mean an estimator with no baseline converges to, computed by
    enumeration rather than by sampling: compare it with :func:`gradient` at the
    same γ to see whether the estimator is unbiased for ∇J_γ. ("reward_to_go"
    with γ < 1 is not; "discounted_reward_to_go" is.)
    """
    from .advantages import RETURNS
    weights_fn = RETURNS[checks.choice("returns", returns, list(RETURNS))]
    checks.unit_interval("gamma", gamma)
    ids, mask = policy_completions(policy, task.max_new_tokens)
    ids, mask = ids.to(policy.device), mask.to(policy.device)
    total = 0.0
    for prompt in prompts.to(policy.device):
        p_rows = prompt.expand(len(ids), -1)
        logp = token_logprobs(policy, p_rows, ids).logprobs * mask                    # (N, T) log π(a_t|s_t)
        with torch.no_grad():
            w = weights_fn(task.reward(p_rows, ids, mask).to(policy.device), mask, gamma)   # (N, T) w_t
            p = logp.sum(1).exp()                                                      # p_θ(τ), held fixed
        total = total + (p[:, None] * w * logp).sum()                                  # Σ_τ p(τ) Σ_t w_t log π
    return flat_grad(total / len(prompts), params or policy.actor_parameters())


def gradient_inside_expectation(policy, task, prompts: torch.Tensor,
                                params: dict[str, torch.nn.Parameter] | None = None) -> torch.Tensor:
    """The popular wrong step: ∇ E_{τ∼p_θ}[R] "=" E_{τ∼p_θ}[∇R(τ)], treating the sampling
    distribution as if it did not depend on θ. R(τ) has no θ in it, so this is the
    zero vector — whatever the true gradient is."""
    total = sum((seq_logp.exp().detach() * R).sum() for seq_logp, R in _enumerated(policy, task, prompts))
    return flat_grad(total / len(prompts), params or policy.actor_parameters())


def expected_score(policy, prefix: torch.Tensor) -> torch.Tensor:
    """E_{a∼π(·|s)}[∇ log π_θ(a|s)] at state ``prefix`` (P,), flattened — zero by the
    expected-grad-log-prob lemma: Σ_a π ∇ log π = Σ_a ∇π = ∇ 1 = 0."""
    logp = torch.log_softmax(policy(prefix[None].to(policy.device))[0, -1], -1)   # (V,)
    return flat_grad((logp.exp().detach() * logp).sum(), policy.actor_parameters())


def total_probability(policy, task, prompt: torch.Tensor) -> float:
    """Σ_τ p_θ(τ | prompt) over the enumeration — 1 up to rounding (a self-check)."""
    with torch.no_grad():
        return float(sum(seq_logp.exp().sum() for seq_logp, _ in _enumerated(policy, task, prompt[None])))


def gradient(policy, task, prompts: torch.Tensor, gamma: float = 1.0,
             params: dict[str, torch.nn.Parameter] | None = None) -> tuple[float, torch.Tensor]:
    """(J(θ), ∇J(θ)) with the gradient flattened over ``params`` (default: the policy's own,
    i.e. everything except a separate critic and the value head)."""
    J = objective(policy, task, prompts, gamma)
    return J.item(), flat_grad(J, params or policy.actor_parameters())


@dataclass
class TinyProblem:
    """A problem small enough to enumerate: a task on fixed prompts and a small policy."""
    task: object
    prompts: torch.Tensor
    policy: torch.nn.Module

    def gradient(self, gamma: float = 1.0) -> tuple[float, torch.Tensor]:
        """(J, ∇J) of the current policy."""
        return gradient(self.policy, self.task, self.prompts, gamma)


def tiny_problem(*, task: str = "copy", length: int = 3, n_prompts: int = 2, kind: str = "gru",
                 hidden_size: int = 16, value_head: str | None = "separate", seed: int = 0,
                 device: str = "cpu") -> TinyProblem:
    """The default tiny problem: copy 3 of 4 letters (V = 8, T = 4) from 2 fixed prompts,
    a GRU with 16 hidden units and a separate critic. ``length=4`` gives V = 8, T = 5.
    ``device`` places the policy (and with it the enumeration); the prompts stay seeded on the CPU."""
    from .policies import make_policy
    from .tasks import FixedPrompts, make_task
    base = make_task(task, length=length)
    prompts = base.sample_prompts(n_prompts, torch.Generator().manual_seed(seed))
    policy = make_policy(kind, len(base.vocab), hidden_size=hidden_size, embed_size=8,
                         value_head=value_head, seed=seed, device=device)
    return TinyProblem(FixedPrompts(base, prompts), prompts, policy)


# --- The KL-regularised objective (chapter 06) -------------------------------------------------------

def _paired_logprobs(policy, reference, task, prompts: torch.Tensor):
    """For each prompt: (log π_θ(τ) with grad, log π_ref(τ), R(τ)) over every enumerated completion τ."""
    for (seq_logp, R), (ref_logp, _) in zip(_enumerated(policy, task, prompts),
                                            _enumerated(reference, task, prompts)):
        yield seq_logp, ref_logp.detach().to(seq_logp.device), R


def kl_divergence(policy, reference, task, prompts: torch.Tensor) -> float:
    """KL(π_θ ‖ π_ref) over whole completions, Σ_τ π_θ(τ) log(π_θ(τ) / π_ref(τ)), averaged
    over ``prompts`` — the exact value that the per-token penalty of Eq. (6.2),
    Σ_t (log π_θ(a_t|s_t) − log π_ref(a_t|s_t)), estimates from one sampled completion."""
    with torch.no_grad():
        total = sum((logp.exp() * (logp - ref_logp)).sum()
                    for logp, ref_logp, _ in _paired_logprobs(policy, reference, task, prompts))
    return float(total / len(prompts))


def regularised_objective(policy, reference, task, prompts: torch.Tensor,
                          beta: float) -> tuple[torch.Tensor, float, float]:
    """J_β(θ) = E_x[ E_{τ∼π_θ}[R(τ)] − β KL(π_θ(·|x) ‖ π_ref(·|x)) ] by enumeration (Eq. 6.3).

    Returns ``(J_β with grad, E[R], KL)``: maximise the first with any optimiser
    to approach :func:`kl_regularised_optimum` from below.
    """
    beta = checks.non_negative_float("beta", beta)
    reward = kl = 0.0
    for logp, ref_logp, R in _paired_logprobs(policy, reference, task, prompts):
        p = logp.exp()                                                    # π_θ(τ|x), with grad
        reward = reward + (p * R).sum()                                   # E_π[R]
        kl = kl + (p * (logp - ref_logp)).sum()                           # KL(π_θ ‖ π_ref)
    reward, kl = reward / len(prompts), kl / len(prompts)
    return reward - beta * kl, float(reward.detach()), float(kl.detach())


@dataclass
class RegularisedOptimum:
    """The maximiser π* of E[R] − β KL(π ‖ π_ref) and what it scores (means over prompts)."""
    beta: float
    log_probs: torch.Tensor
    """(n_prompts, N) log π*(τ|x) over :func:`enumerate_completions`."""
    reward: float
    """E_{τ∼π*}[R(τ)]."""
    kl: float
    """KL(π* ‖ π_ref)."""
    value: float
    """β log E_{τ∼π_ref}[exp(R(τ)/β)] = reward − β·kl, the largest value any policy can reach."""


def kl_regularised_optimum(reference, task, prompts: torch.Tensor, beta: float) -> RegularisedOptimum:
    """π*(τ|x) = π_ref(τ|x) exp(R(τ)/β) / Z_β(x), computed exactly over every completion (Eq. 6.4).

    Why: E_π[R] − β KL(π‖π_ref) = −β KL(π ‖ π*) + β log Z_β, so π* is the unique
    maximiser and β log Z_β(x) = β log E_ref[exp(R/β)] the optimal value. Large β
    keeps π* ≈ π_ref; β → 0 puts all mass on the highest-reward completions (mode
    collapse: what maximising E[R] alone asks for). The trap: β = 0 is a limit, not
    a value — pass β > 0.
    """
    beta = checks.positive_float("beta", beta)
    rows, reward, kl, value = [], 0.0, 0.0, 0.0
    with torch.no_grad():
        for ref_logp, R in _enumerated(reference, task, prompts):
            log_z = torch.logsumexp(ref_logp + R / beta, 0)               # log Z_β(x)
            log_star = ref_logp + R / beta - log_z                        # log π*(τ|x)
            p = log_star.exp()
            reward, kl = reward + (p * R).sum(), kl + (p * (log_star - ref_logp)).sum()
            value += beta * log_z
            rows.append(log_star)
    n = len(prompts)
    return RegularisedOptimum(beta, torch.stack(rows), float(reward / n), float(kl / n), float(value / n))
