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
from .rollout import token_logprobs
from .vocab import EOS_ID, PAD_ID

MAX_SEQUENCES = 2 ** 18


def enumerate_completions(vocab_size: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every completion as ``(ids (N, T), mask (N, T))``, PAD after EOS."""
    V = checks.positive_int("vocab_size", vocab_size, minimum=3)
    T = checks.positive_int("horizon", horizon)
    if V ** T > MAX_SEQUENCES:
        raise ValueError(f"enumerating |V|^T = {V}^{T} = {V ** T:,} sequences exceeds the limit "
                         f"MAX_SEQUENCES = {MAX_SEQUENCES:,}; use a smaller vocabulary or horizon")
    body = [t for t in range(V) if t != EOS_ID]
    rows: list[list[int]] = []
    for k in range(T):                                    # k non-EOS tokens, then EOS
        rows += [[*prefix, EOS_ID] + [PAD_ID] * (T - k - 1) for prefix in itertools.product(body, repeat=k)]
    rows += [list(prefix) for prefix in itertools.product(body, repeat=T)]   # no EOS: runs to the horizon
    ids = torch.tensor(rows, dtype=torch.long)
    eos = (ids == EOS_ID).long()
    mask = ((eos.cumsum(1) - eos) == 0).float()
    return ids, mask


def sequence_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """R(τ) = Σ_t γ^t r_t for each row (B,)."""
    discount = gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype, device=rewards.device)
    return (rewards * mask * discount).sum(1)


def objective(policy, task, prompts: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """J(θ) (with grad): mean over ``prompts`` of Σ_τ p_θ(τ|prompt) R(τ), every τ enumerated."""
    checks.unit_interval("gamma", gamma)
    ids, mask = enumerate_completions(policy.vocab_size, task.max_new_tokens)
    if len(prompts) * policy.vocab_size ** task.max_new_tokens > MAX_SEQUENCES:
        raise ValueError(f"{len(prompts)} prompts × {policy.vocab_size}^{task.max_new_tokens} sequences "
                         f"exceed MAX_SEQUENCES = {MAX_SEQUENCES:,}; use fewer prompts")
    device = policy.device
    ids, mask = ids.to(device), mask.to(device)
    total = 0.0
    for prompt in prompts.to(device):
        p_rows = prompt.expand(len(ids), -1)
        seq_logp = (token_logprobs(policy, p_rows, ids).logprobs * mask).sum(1)     # log p_θ(τ)
        with torch.no_grad():
            R = sequence_returns(task.reward(p_rows, ids, mask).to(device), mask, gamma)
        total = total + (seq_logp.exp() * R).sum()                                   # Σ_τ p_θ(τ) R(τ)
    return total / len(prompts)


def total_probability(policy, task, prompt: torch.Tensor) -> float:
    """Σ_τ p_θ(τ | prompt) over the enumeration — 1 up to rounding (a self-check)."""
    ids, mask = enumerate_completions(policy.vocab_size, task.max_new_tokens)
    with torch.no_grad():
        lp = token_logprobs(policy, prompt.expand(len(ids), -1).to(policy.device), ids.to(policy.device))
        return float(((lp.logprobs * mask.to(policy.device)).sum(1)).exp().sum())


def gradient(policy, task, prompts: torch.Tensor, gamma: float = 1.0,
             params: dict[str, torch.nn.Parameter] | None = None) -> tuple[float, torch.Tensor]:
    """(J(θ), ∇J(θ)) with the gradient flattened over ``params`` (default: the policy's own,
    i.e. everything except a separate critic and the value head)."""
    from .gradients import policy_parameters
    params = params or policy_parameters(policy)
    J = objective(policy, task, prompts, gamma)
    grads = torch.autograd.grad(J, list(params.values()), allow_unused=True)
    flat = torch.cat([torch.zeros_like(p).flatten() if g is None else g.flatten()
                      for p, g in zip(params.values(), grads)])
    return J.item(), flat


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
                 hidden_size: int = 16, value_head: str | None = "separate", seed: int = 0) -> TinyProblem:
    """The default tiny problem: copy 3 of 4 letters (V = 8, T = 4) from 2 fixed prompts,
    a GRU with 16 hidden units and a separate critic. ``length=4`` gives V = 8, T = 5."""
    from .policies import make_policy
    from .tasks import FixedPrompts, make_task
    base = make_task(task, length=length)
    prompts = base.sample_prompts(n_prompts, torch.Generator().manual_seed(seed))
    policy = make_policy(kind, len(base.vocab), hidden_size=hidden_size, embed_size=8,
                         value_head=value_head, seed=seed)
    return TinyProblem(FixedPrompts(base, prompts), prompts, policy)
