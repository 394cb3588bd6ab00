"""Maximum-likelihood (teacher-forced) training: the pre-training that RL starts from.

NLL(θ) = −(1/N) Σ_{i=1}^{B} Σ_{valid t} log π_θ(y_{i,t} | x_i, y_{i,<t})   (Eq. 6.1), a minibatch
quantity: B pairs drawn afresh for every update, N their number of valid target tokens.
No gradient clipping (unlike ``ReinforceConfig.max_grad_norm``).
Used to fit the frozen reference LM behind the fluency reward and, in the
chapters, to pre-train a translator before policy-gradient fine-tuning.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from . import checks
from .rollout import token_logprobs


def nll(policy, prompt_ids: torch.Tensor, target_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood per valid target token (a scalar with grad)."""
    logprobs = token_logprobs(policy, prompt_ids, target_ids).logprobs
    return -(logprobs * mask).sum() / mask.sum().clamp_min(1.0)                # Eq. (6.1)


def fit(policy, prompt_ids: torch.Tensor, target_ids: torch.Tensor, mask: torch.Tensor, *,
        steps: int = 300, batch_size: int = 64, lr: float = 3e-3, seed: int = 0,
        callback: Callable[[int, float], bool | None] | None = None) -> list[float]:
    """Minimise :func:`nll` with Adam on random minibatches; returns the loss per step.

    ``callback(step, loss)`` runs after every update (e.g. to evaluate test BLEU every
    few steps); returning ``True`` stops training early.
    """
    steps = checks.positive_int("steps", steps)
    batch_size = checks.positive_int("batch_size", batch_size)
    lr = checks.positive_float("lr", lr)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    device, losses = policy.device, []
    for _ in range(steps):
        idx = torch.randint(len(prompt_ids), (batch_size,), generator=generator)
        loss = nll(policy, prompt_ids[idx].to(device), target_ids[idx].to(device), mask[idx].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if callback is not None and callback(len(losses) - 1, losses[-1]):
            break
    return losses
