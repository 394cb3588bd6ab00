"""Reusable reward pieces for text: BLEU, chrF and fluency under a reference LM.

Each sentence-level metric takes detokenised hypotheses and references and
returns one score per sentence in [0, 1] (sacrebleu reports 0–100; we divide
by 100 so rewards of different metrics share a scale). BLEU uses sacrebleu's
exponential smoothing, so a short hypothesis with no 4-gram match still gets
partial credit instead of a flat zero — essential for a learning signal.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from .rollout import token_logprobs



def at_last_token(seq_rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Spread a sequence reward (B,) into per-token rewards (B, T) on the last valid token.

    >>> m = torch.tensor([[1., 1., 0.], [1., 1., 1.]])
    >>> at_last_token(torch.tensor([2., 3.]), m)
    tensor([[0., 2., 0.],
            [0., 0., 3.]])
    """
    B, T = mask.shape
    last = (mask.sum(1).long() - 1).clamp_min(0)  # (B,) index of the last valid token
    out = torch.zeros(B, T, dtype=torch.float32, device=mask.device)
    out[torch.arange(B, device=mask.device), last] = seq_rewards.to(out)
    return out * mask


def _check_refs(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"references must match hypotheses in number, got "
                         f"{len(references)} references for {len(hypotheses)} hypotheses")
    for i, ref in enumerate(references):
        if not ref.strip():
            raise ValueError(f"references[{i}] is empty; each reference must be a non-empty string")


def sentence_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> torch.Tensor:
    """Smoothed sentence BLEU / 100 for each pair, shape (B,)."""
    _check_refs(hypotheses, references)
    import sacrebleu   # imported on first use: it pulls in lxml and costs ~0.1 s
    scores = [sacrebleu.sentence_bleu(h, [r], smooth_method="exp").score
              for h, r in zip(hypotheses, references)]
    return torch.tensor(scores, dtype=torch.float32) / 100.0


def sentence_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> torch.Tensor:
    """Sentence chrF / 100 for each pair, shape (B,): character n-gram F-score,
    which rewards getting a word *almost* right (a wrong suffix costs little)."""
    _check_refs(hypotheses, references)
    import sacrebleu
    scores = [sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(hypotheses, references)]
    return torch.tensor(scores, dtype=torch.float32) / 100.0


METRICS = {"bleu": sentence_bleu, "chrf": sentence_chrf}


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct-n: unique n-grams / all n-grams over a set of texts (1 = no repetition).

    A policy that games its reward by saying the same safe thing again and again
    scores near 0.

    >>> distinct_n(["a b c", "a b c"], 2)
    0.5
    """
    grams = [tuple(w[i:i + n]) for w in (t.split() for t in texts) for i in range(len(w) - n + 1)]
    return len(set(grams)) / max(1, len(grams))


class FluencyReward:
    """Length-normalised log-likelihood of a completion under a frozen reference LM.

    r = (1/n) Σ_{t<n} log p_ref(a_t | context, a_<t), paid on the last valid token,
    where n counts the completion's valid tokens (EOS included). *Higher is more
    fluent*: this is minus the log-perplexity. The reference model is separate
    and frozen — scoring text by the policy's own likelihood would let the policy
    reward itself for becoming confident, whatever it says.

    ``use_prompt=True`` conditions on the task prompt (the LM continues it);
    ``False`` scores the completion as a sentence of its own, after ``<bos>``.
    """

    name = "fluency"

    def __init__(self, lm: torch.nn.Module, *, use_prompt: bool = True) -> None:
        self.lm = lm.eval().requires_grad_(False)
        self.use_prompt = use_prompt
        self.vocab_size: int = lm.vocab_size

    @torch.no_grad()
    def __call__(self, prompt_ids: torch.Tensor, completion_ids: torch.Tensor,
                 mask: torch.Tensor) -> torch.Tensor:
        device = self.lm.device
        context = prompt_ids if self.use_prompt else torch.ones_like(prompt_ids[:, :1])  # BOS
        out = token_logprobs(self.lm, context.to(device), completion_ids.to(device))
        m = mask.to(device)
        mean_logp = (out.logprobs * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B,)
        return at_last_token(mean_logp, m).to(mask.device)
