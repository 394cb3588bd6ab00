"""Sampling completions from a policy, and recomputing their log-probs with grad.

:func:`sample` is the only sampler in pglab. It runs without grad, one token per
step for the whole batch, carrying the policy's state, and records what the
algorithms need. :func:`token_logprobs` recomputes log π_θ(a_t|s_t) in a single
teacher-forced pass *with* grad — cheaper than keeping the sampling graph, and
the identity ``token_logprobs == old_logprobs`` is a test of both.

Memory: one step at a time. Each step holds the logits of that step, O(B·V),
never a B×T×V tensor, and keeps only what the algorithms need of it — the
log-prob and the entropy of the chosen token, (B,) each. At GPT-2's V = 50,257
with B = 64 a step's logits are 13 MB; the whole B×T×V block at T = 128 would be 1.6 GB.

Randomness: one uniform number per row and step, drawn from the caller's CPU
``torch.Generator`` (B numbers per step, in step order), is turned into a token by
the inverse CDF of softmax(logits / temperature). The same seed therefore gives the
same tokens on any device (up to a rounding tie at a CDF boundary, as rare as a tie
in float32). pglab 0.2.0 drew B×T×V uniforms up front for the Gumbel-max trick;
the per-step draws changed each seed's samples once.

Old log-probs are recorded in the policy's precision (at least float32): a float64
policy gets float64 ``old_logprobs``, so the PPO ratio at the old θ is exactly 1.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from . import checks
from .policies.protocol import eos_id as policy_eos_id, pad_id as policy_pad_id
from .vocab import EOS_ID

MAX_NEW_TOKENS = 4096
"""Longest completion ``sample`` draws."""


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
    """Sample one completion per prompt row, one token per step for the whole batch.

    Each step: p = softmax(z / temperature) over the V logits z, then with u ~ U[0, 1)
    from ``generator`` the token a = min{a : Σ_{b≤a} p_b > u · Σ_b p_b} (inverse CDF: an exact
    sample of p). ``greedy=True`` takes argmax_a z_a (log-probs recorded at temperature 1).
    The chosen token's log p_a and the entropy −Σ_b p_b log p_b are kept as the loop goes;
    rows stop at the policy's ``eos_id`` and are padded with its ``pad_id``.
    """
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)) so that "
                         f"sampling is reproducible, got {generator!r}")
    T = checks.positive_int("max_new_tokens", max_new_tokens, maximum=MAX_NEW_TOKENS)
    temperature = 1.0 if greedy else checks.positive_float("temperature", temperature)
    device, eos, pad = policy.device, policy_eos_id(policy), policy_pad_id(policy)
    prompt_ids = prompt_ids.to(device)
    B = prompt_ids.shape[0]
    tokens = torch.full((B, T), pad, dtype=torch.long, device=device)
    finished = torch.zeros(B, dtype=torch.bool, device=device)
    logits, state = policy.prefill(prompt_ids)                                 # (B, V)
    dtype = torch.promote_types(logits.dtype, torch.float32)                   # fp32 under bf16/fp16, fp64 kept
    old_logprobs = torch.zeros(B, T, dtype=dtype, device=device)
    entropy = torch.zeros(B, T, dtype=dtype, device=device)
    for t in range(T):
        u = torch.rand(B, generator=generator, dtype=torch.float64)           # B draws per step, on the CPU
        # Two (B, V) buffers at most: the step's logits (scaled in place), then log p; p = exp(log p) becomes its CDF.
        logits = logits.to(dtype)
        if temperature != 1.0:
            logits = logits.div_(temperature)                                  # z / τ (the step's own tensor)
        logp = F.log_softmax(logits, -1)                                      # log p = z/τ − logsumexp(z/τ)
        del logits
        p = logp.exp()
        logp.clamp_min_(torch.finfo(dtype).min)                              # 0 · log 0 = 0 below, not NaN
        entropy[:, t] = -(p[:, None, :] @ logp[:, :, None]).view(B)         # −Σ_a p_a log p_a, no (B, V) temporary
        tok = logp.argmax(-1) if greedy else _inverse_cdf(p, u)
        old_logprobs[:, t] = logp.gather(-1, tok[:, None]).squeeze(-1)
        del logp, p
        tokens[:, t] = tok.masked_fill(finished, pad)
        finished |= tok == eos
        if t + 1 == T or bool(finished.all()):
            break
        logits, state = policy.step(tokens[:, t], state)
    del state
    mask = completion_mask(tokens, eos).to(dtype)
    values = None
    if policy.has_value:
        ids = torch.cat([prompt_ids, tokens[:, :-1]], 1)
        values = policy.values(ids)[:, prompt_ids.shape[1] - 1:] * mask
    return Rollout(prompt_ids, tokens, mask, old_logprobs * mask, entropy * mask, values)


def _inverse_cdf(p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Token a = min{a : Σ_{b≤a} p_b > u · Σ_b p_b} per row: an exact draw from p (B, V). Overwrites p with its CDF."""
    cdf = p.cumsum_(-1)
    x = u.to(device=cdf.device, dtype=cdf.dtype)[:, None] * cdf[:, -1:]       # u · Σ p  (Σ p = 1 up to rounding)
    return torch.searchsorted(cdf, x, right=True).squeeze(-1).clamp_max_(cdf.shape[-1] - 1)


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


def completion_mask(completion_ids: torch.Tensor, eos_id: int = EOS_ID) -> torch.Tensor:
    """1.0 up to and including the first ``eos_id`` of each row, 0.0 after it.

    >>> completion_mask(torch.tensor([[5, 2, 0, 0], [5, 6, 7, 8]]))
    tensor([[1., 1., 0., 0.],
            [1., 1., 1., 1.]])
    """
    eos = (completion_ids == eos_id).long()
    return ((eos.cumsum(1) - eos) == 0).float()   # no EOS strictly before t
