"""Sampling completions from a policy, and recomputing their log-probs with grad.

:func:`sample` is the only sampler in pglab. It runs without grad, one token per
step for the whole batch, carrying the policy's state, and records what the
algorithms need. :func:`token_logprobs` recomputes log π_θ(a_t|s_t) in a single
teacher-forced pass *with* grad — cheaper than keeping the sampling graph, and
the identity ``token_logprobs == old_logprobs`` is a test of both.

Randomness: uniform numbers for every (row, step, token) are drawn up front
from the caller's CPU ``torch.Generator`` and turned into tokens by the
Gumbel-max trick, so the same seed gives the same tokens on any device.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from . import checks
from .vocab import EOS_ID, PAD_ID

MAX_NEW_TOKENS = 4096
"""Longest completion ``sample`` draws (B × T × V uniforms are drawn up front)."""


@dataclass
class Rollout:
    """A batch of sampled completions. Shapes: (B, P) for the prompt, (B, T) otherwise."""
    prompt_ids: torch.Tensor       # (B, P)
    completion_ids: torch.Tensor   # (B, T) PAD after EOS
    mask: torch.Tensor             # (B, T) 1.0 up to and including EOS
    old_logprobs: torch.Tensor     # (B, T) log-prob of each sampled token under the sampling distribution
    entropy: torch.Tensor          # (B, T) entropy of that distribution
    values: torch.Tensor | None = None   # (B, T) V(s_t) when the policy has a value head

    def to(self, device: torch.device | str) -> "Rollout":
        return Rollout(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(device)
                          for f in fields(self)})

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(1)


@dataclass
class TokenOutputs:
    """What :func:`token_logprobs` returns: per-token log-probs, entropy and values."""
    logprobs: torch.Tensor          # (B, T) with grad
    entropy: torch.Tensor           # (B, T) with grad
    values: torch.Tensor | None     # (B, T) with grad, or None


@torch.no_grad()
def sample(policy, prompt_ids: torch.Tensor, max_new_tokens: int, *, generator: torch.Generator,
           temperature: float = 1.0, greedy: bool = False) -> Rollout:
    """Sample one completion per prompt row.

    Tokens come from softmax(logits / temperature) by the Gumbel-max trick:
    argmax_a (z_a + g_a) with g_a = −log(−log u_a) is an exact sample of
    softmax(z). ``greedy=True`` takes argmax_a z_a (log-probs recorded at
    temperature 1). Log-probs and entropies are computed once, after the loop.
    """
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)) so that "
                         f"sampling is reproducible, got {generator!r}")
    T = checks.positive_int("max_new_tokens", max_new_tokens, maximum=MAX_NEW_TOKENS)
    temperature = 1.0 if greedy else checks.positive_float("temperature", temperature)
    device = policy.device
    prompt_ids = prompt_ids.to(device)
    B, V = prompt_ids.shape[0], policy.vocab_size
    u = torch.rand(B, T, V, generator=generator).clamp_(1e-20, 1.0).to(device)  # drawn up front
    gumbel = -torch.log(-torch.log(u))                                         # (B, T, V)
    tokens = torch.full((B, T), PAD_ID, dtype=torch.long, device=device)
    scaled = torch.zeros(B, T, V, device=device)                               # logits / temperature
    finished = torch.zeros(B, dtype=torch.bool, device=device)
    logits, state = policy.prefill(prompt_ids)                                 # (B, V)
    for t in range(T):
        scaled[:, t] = logits.float() / temperature
        tok = scaled[:, t].argmax(-1) if greedy else (scaled[:, t] + gumbel[:, t]).argmax(-1)
        tokens[:, t] = tok.masked_fill(finished, PAD_ID)
        finished |= tok == EOS_ID
        if t + 1 == T or bool(finished.all()):
            break
        logits, state = policy.step(tokens[:, t], state)
    mask = completion_mask(tokens)
    logp = F.log_softmax(scaled, -1)                                           # (B, T, V)
    old_logprobs = logp.gather(-1, tokens[..., None]).squeeze(-1) * mask
    entropy = -(logp.exp() * logp).sum(-1) * mask
    values = None
    if policy.has_value:
        ids = torch.cat([prompt_ids, tokens[:, :-1]], 1)
        values = policy.values(ids)[:, prompt_ids.shape[1] - 1:] * mask
    return Rollout(prompt_ids, tokens, mask, old_logprobs, entropy, values)


def token_logprobs(policy, prompt_ids: torch.Tensor, completion_ids: torch.Tensor, *,
                   temperature: float = 1.0) -> TokenOutputs:
    """Recompute log π_θ(a_t | s_t) for given completions in one teacher-forced pass (with grad).

    Position P-1+t of ``prompt ⧺ completion[:-1]`` predicts completion token t.
    Entries after EOS are computed too; multiply by the mask before summing.
    """
    P = prompt_ids.shape[1]
    ids = torch.cat([prompt_ids, completion_ids[:, :-1]], 1)       # (B, P + T - 1)
    logits, values = policy.evaluate(ids, start=P - 1)                # only positions that score completion tokens
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()                                         # log-softmax in at least fp32
    logp = F.log_softmax(logits / temperature, -1)                      # (B, T, V)
    taken = logp.gather(-1, completion_ids[..., None]).squeeze(-1)      # (B, T)
    entropy = -(logp.exp() * logp).sum(-1)                              # (B, T)
    return TokenOutputs(taken, entropy, values)


def completion_mask(completion_ids: torch.Tensor) -> torch.Tensor:
    """1.0 up to and including the first EOS of each row, 0.0 after it.

    >>> completion_mask(torch.tensor([[5, 2, 0, 0], [5, 6, 7, 8]]))
    tensor([[1., 1., 0., 0.],
            [1., 1., 1., 1.]])
    """
    eos = (completion_ids == EOS_ID).long()
    return ((eos.cumsum(1) - eos) == 0).float()   # no EOS strictly before t
