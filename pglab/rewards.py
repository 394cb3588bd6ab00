"""Reusable reward pieces for text: BLEU, chrF and fluency under a reference LM.

Each sentence-level metric takes detokenised hypotheses and references and
returns one score per sentence in [0, 1] (sacrebleu reports 0–100; we divide
by 100 so rewards of different metrics share a scale). BLEU uses sacrebleu's
exponential smoothing, so a short hypothesis with no 4-gram match still gets
partial credit instead of a flat zero — essential for a learning signal.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

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


@lru_cache(maxsize=None)
def _metric(name: str):
    """One sacrebleu metric object per metric, built on first use and kept.

    ``sacrebleu.sentence_bleu(h, [r])`` builds a new BLEU (and a new tokenizer, whose
    cache then starts empty) on every call; reusing one object gives the same scores
    at about half the cost. Imported here: sacrebleu pulls in lxml and costs ~0.1 s.
    """
    from sacrebleu.metrics import BLEU, CHRF
    if name == "bleu":   # the settings of sacrebleu.sentence_bleu(..., smooth_method="exp")
        return BLEU(smooth_method="exp", effective_order=True)
    return CHRF()        # the settings of sacrebleu.sentence_chrf(...)


@lru_cache(maxsize=1 << 14)
def _reference_info(name: str, reference: str) -> dict:
    """A reference's n-gram counts (and length), extracted once: a task's references recur in every batch."""
    metric = _metric(name)
    return metric._extract_reference_info([metric._preprocess_segment(reference)])


@lru_cache(maxsize=1 << 16)
def _sentence_score(name: str, hypothesis: str, reference: str) -> float:
    """The sentence score (0–100) of one pair, remembered: samples of a trained policy repeat.

    The steps of ``metric.sentence_score(hypothesis, [reference])`` (sacrebleu 2.6, pinned) with the
    reference's n-grams taken from :func:`_reference_info` instead of counted again for every pair
    (tests/test_rewards.py checks the scores against ``sacrebleu.sentence_bleu``/``sentence_chrf``).
    """
    metric = _metric(name)
    stats = metric._compute_segment_statistics(metric._preprocess_segment(hypothesis), _reference_info(name, reference))
    return metric._aggregate_and_compute([stats]).score


def sentence_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> torch.Tensor:
    """Smoothed sentence BLEU / 100 for each pair, shape (B,)."""
    _check_refs(hypotheses, references)
    scores = [_sentence_score("bleu", h, r) for h, r in zip(hypotheses, references)]
    return torch.tensor(scores, dtype=torch.float32) / 100.0


def sentence_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> torch.Tensor:
    """Sentence chrF / 100 for each pair, shape (B,): character n-gram F-score,
    which rewards getting a word *almost* right (a wrong suffix costs little)."""
    _check_refs(hypotheses, references)
    scores = [_sentence_score("chrf", h, r) for h, r in zip(hypotheses, references)]
    return torch.tensor(scores, dtype=torch.float32) / 100.0


METRICS = {"bleu": sentence_bleu, "chrf": sentence_chrf}


@lru_cache(maxsize=8)
def _corpus_metrics(references: tuple[str, ...]):
    """BLEU and chrF objects holding a test set's reference n-grams (sacrebleu's ``references=`` cache)."""
    from sacrebleu.metrics import BLEU, CHRF
    return BLEU(references=[list(references)]), CHRF(references=[list(references)])


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (0–100), as ``sacrebleu.corpus_bleu``/``corpus_chrf`` with their defaults.

    One reference per hypothesis. The references' n-grams are counted once per reference list and
    kept, so evaluating the same test set again (every few updates, in the chapters) counts only the
    hypotheses.
    """
    _check_refs(hypotheses, references)
    bleu, chrf = _corpus_metrics(tuple(references))
    return {"bleu": bleu.corpus_score(list(hypotheses), None).score,
            "chrf": chrf.corpus_score(list(hypotheses), None).score}


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


UNKNOWN_WORD_LOGPROB = -20.0
"""log p of a word the reference LM's vocabulary lacks (e^-20 ≈ 2e-9: below any word it knows)."""


class TextFluency:
    """:class:`FluencyReward` for a task whose vocabulary is a tokenizer: the same score on the text.

    The reference LM reads pglab words, the policy writes tokenizer tokens. Decode the
    completion (and the prompt, when it conditions on it), split it into words, encode
    them in the LM's vocabulary — with EOS after them if the completion stopped — and
    score exactly as :class:`FluencyReward` does. A word the LM does not know (a
    character-level policy can spell anything) gets log p = ``UNKNOWN_WORD_LOGPROB``.
    """

    name = "fluency"

    def __init__(self, fluency: FluencyReward, lm_vocab, task_vocab) -> None:
        self.fluency, self.lm_vocab, self.task_vocab = fluency, lm_vocab, task_vocab
        self.vocab_size: int = len(task_vocab)

    def _ids(self, word_lists: list[list[str]], stops: list[bool]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """LM ids (N, L), mask (N, L) and a mask of unknown words (N, L)."""
        from .vocab import EOS_ID, PAD_ID
        length = max(len(w) + 1 for w in word_lists)
        ids, mask = torch.full((len(word_lists), length), PAD_ID), torch.zeros(len(word_lists), length)
        unknown = torch.zeros(len(word_lists), length, dtype=torch.bool)
        for i, (words, stop) in enumerate(zip(word_lists, stops)):
            row = [self.lm_vocab.index.get(w, PAD_ID) for w in words] + ([EOS_ID] if stop else [])
            ids[i, :len(row)], mask[i, :len(row)] = torch.tensor(row, dtype=torch.long), 1.0
            unknown[i, :len(words)] = torch.tensor([w not in self.lm_vocab.index for w in words], dtype=torch.bool)
        return ids, mask, unknown

    @torch.no_grad()
    def __call__(self, prompt_ids: torch.Tensor, completion_ids: torch.Tensor,
                 mask: torch.Tensor) -> torch.Tensor:
        from .tasks.text import ended
        from .vocab import BOS_ID
        stops = ended(completion_ids, mask, self.task_vocab.eos_id).tolist()
        words = [self.task_vocab.words(row) for row in completion_ids.tolist()]
        ids, m, unknown = self._ids(words, stops)
        if self.fluency.use_prompt:
            context = [[BOS_ID, *(self.lm_vocab.index.get(w, 0) for w in self.task_vocab.words(row))]
                       for row in prompt_ids.tolist()]
            context = torch.tensor(context) if len({len(c) for c in context}) == 1 else None
            if context is None:
                raise ValueError("prompts of different word counts: fluency through a tokenizer needs one length")
        else:
            context = torch.full((len(words), 1), BOS_ID)
        device = self.fluency.lm.device
        logp = token_logprobs(self.fluency.lm, context.to(device), ids.to(device)).logprobs.cpu()
        logp = logp.masked_fill(unknown, UNKNOWN_WORD_LOGPROB)
        mean_logp = (logp * m).sum(1) / m.sum(1).clamp_min(1.0)           # the same mean as FluencyReward
        return at_last_token(mean_logp.to(mask.device), mask)
