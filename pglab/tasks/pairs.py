"""Prompt → reference tasks (translation, dialogue), rewarded by sentence BLEU or chrF.

A :class:`PairTask` holds a corpus of (source, reference) strings split into
train and test. The prompt is ``<bos> source =`` left-padded with PAD to a fixed
length; the completion is scored against the reference with sacrebleu, the score
paid on the last valid token.

With ``tokenizer=tok`` the prompt is the text ``"source ="`` and the completion
``" reference"`` through that tokenizer; the reward is the same sacrebleu call on the
decoded text, so both vocabularies get the same score for the same words.
"""
from __future__ import annotations

import torch

from .. import checks
from ..reference_lm import encode_sentences, reference_lm
from ..rewards import METRICS, FluencyReward, TextFluency, at_last_token, corpus_scores
from ..vocab import BOS_ID, PAD_ID, Vocab
from .base import Task
from .text import as_vocab, encode_completions, encode_many, encode_prompts

SPLITS = ("train", "test")


class PairTask(Task):
    """Generate the reference for a prompt; the corpus is given as (source, reference) pairs."""

    def __init__(self, pairs: list[tuple[str, str]], *, name: str, metric: str = "bleu",
                 test_fraction: float = 0.1, split: str = "train", extra_tokens: list[str] = (), tokenizer=None) -> None:
        self.metric = checks.choice("metric", metric, list(METRICS))
        self.split = checks.choice("split", split, SPLITS)
        test_fraction = checks.unit_interval("test_fraction", test_fraction)
        if not 0.0 < test_fraction < 1.0 or round(test_fraction * len(pairs)) >= len(pairs):
            raise ValueError(f"test_fraction must leave both splits non-empty: a value in (0, 1) with at least one "
                             f"training pair out of {len(pairs)}, got {test_fraction!r}")
        if len(pairs) < 2:
            raise ValueError(f"a pair task needs at least 2 pairs, got {len(pairs)}")
        self.name = name if metric == "bleu" else f"{name}-{metric}"
        words = dict.fromkeys([*extra_tokens, *(w for s, r in pairs for w in (*s.split(), *r.split()))])
        self.vocab = Vocab([*words, "="])
        self.word_vocab, self.tokenizer = self.vocab, tokenizer
        n_test = max(1, round(test_fraction * len(pairs)))
        self.pairs = {"train": pairs[n_test:], "test": pairs[:n_test]}
        self.prompt_len = max(len(s.split()) for s, _ in pairs) + 2            # <bos> words =
        self.max_new_tokens = max(len(r.split()) for _, r in pairs) + 1        # words <eos>
        if tokenizer is not None:                                              # lengths in the tokenizer's tokens
            self.vocab = as_vocab(tokenizer)
            self.prompt_len = max(map(len, encode_many(self.vocab, [s + " =" for s, _ in pairs]))) + 1
            self.max_new_tokens = max(map(len, encode_many(self.vocab, [" " + r for _, r in pairs]))) + 1
        self._prompts = {s: self._encode_prompts([src for src, _ in p]) for s, p in self.pairs.items()}
        self._reference = {tuple(row.tolist()): ref for s, p in self.pairs.items()
                           for row, (_, ref) in zip(self._prompts[s], p)}

    def texts(self) -> list[str]:
        """Every pair as one line ``"source = reference"``: a corpus for a tokenizer."""
        return [f"{src} = {ref}" for split in SPLITS for src, ref in self.pairs[split]]

    def _encode_prompts(self, sources: list[str]) -> torch.Tensor:
        if self.tokenizer is not None:
            return encode_prompts(self.vocab, [src + " =" for src in sources], self.prompt_len)
        out = torch.full((len(sources), self.prompt_len), PAD_ID)
        for i, src in enumerate(sources):
            ids = [BOS_ID, *self.vocab.encode(src), self.vocab.index["="]]
            out[i, self.prompt_len - len(ids):] = torch.tensor(ids)  # left-pad
        return out

    def prompts(self, split: str | None = None) -> torch.Tensor:
        """All prompts of a split, (N, P), in corpus order."""
        return self._prompts[checks.choice("split", split or self.split, SPLITS)]

    def targets(self, split: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Reference completions of a split as (ids (N, T), mask (N, T)) — for MLE."""
        refs = [ref for _, ref in self.pairs[checks.choice("split", split or self.split, SPLITS)]]
        if self.tokenizer is not None:
            return encode_completions(self.vocab, [" " + r for r in refs], self.max_new_tokens)
        return encode_sentences(self.vocab, refs, self.max_new_tokens)

    def sample_prompts(self, n: int, generator: torch.Generator) -> torch.Tensor:
        pool = self.prompts()
        return pool[torch.randint(len(pool), (checks.positive_int("n", n),), generator=generator)]

    def references(self, prompt_ids: torch.Tensor) -> list[str]:
        """The reference of each prompt row."""
        refs = []
        for row in prompt_ids.tolist():
            if tuple(row) not in self._reference:
                raise ValueError("prompt not in this task's corpus: " + self.vocab.decode(row))
            refs.append(self._reference[tuple(row)])
        return refs

    def reward(self, prompt_ids, completion_ids, mask):
        hyps = self.decode(completion_ids.cpu())
        scores = METRICS[self.metric](hyps, self.references(prompt_ids.cpu()))
        return at_last_token(scores.to(mask.device), mask)

    @torch.no_grad()
    def evaluate(self, policy, split: str = "test") -> dict[str, float]:
        """Greedy-decode every prompt of ``split``; corpus BLEU and chrF (0–100, sacrebleu)."""
        from ..rollout import sample
        prompts = self.prompts(split)
        ro = sample(policy, prompts, self.max_new_tokens, generator=torch.Generator(), greedy=True)
        return corpus_scores(self.decode(ro.completion_ids.cpu()), self.references(prompts))

    def fluency_reward(self, *, lm_steps: int = 400, seed: int = 0) -> FluencyReward | TextFluency:
        """Fluency in the *reference* language: a reference LM fitted to the training
        references, scoring a completion as a sentence on its own. Add with ``task.plus``."""
        sentences = [ref for _, ref in self.pairs["train"]]
        fluency = FluencyReward(reference_lm(self.word_vocab, sentences, steps=lm_steps, seed=seed), use_prompt=False)
        return fluency if self.tokenizer is None else TextFluency(fluency, self.word_vocab, self.vocab)
