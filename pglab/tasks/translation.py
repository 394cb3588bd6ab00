"""Tiny translation: turn a toy-English sentence into the toy target language.

The parallel corpus comes from :mod:`pglab.tasks.toylang` (rules, a lexicon and
a seed), split into train and test sentences. The prompt is the source sentence
followed by ``=`` and left-padded with PAD to a fixed length; the completion is
rewarded by sentence-level BLEU or chrF (sacrebleu) against the reference,
paid on the last valid token.
"""
from __future__ import annotations

import torch

from .. import checks
from ..reference_lm import reference_lm
from ..rewards import METRICS, FluencyReward
from ..vocab import BOS_ID, EOS_ID, PAD_ID, Vocab
from .base import Task, at_last_token
from .toylang import Grammar, parallel_corpus

SPLITS = ("train", "test")


class TranslationTask(Task):
    """Translate toy-English into the toy target language, rewarded by BLEU or chrF."""

    def __init__(self, *, metric: str = "bleu", n_pairs: int = 4000, test_fraction: float = 0.1,
                 seed: int = 0, split: str = "train", grammar: Grammar | None = None) -> None:
        self.metric = checks.choice("metric", metric, list(METRICS))
        self.split = checks.choice("split", split, SPLITS)
        n_pairs = checks.positive_int("n_pairs", n_pairs, minimum=2)
        test_fraction = checks.unit_interval("test_fraction", test_fraction)
        self.grammar = grammar or Grammar()
        self.name = "translate" if metric == "bleu" else f"translate-{metric}"
        self.vocab = Vocab([*self.grammar.source_words(), *self.grammar.target_words(), "="])
        pairs = parallel_corpus(self.grammar, n_pairs, seed)
        n_test = max(1, round(test_fraction * n_pairs))
        self.pairs = {"train": pairs[n_test:], "test": pairs[:n_test]}
        self.prompt_len = self.grammar.max_source_words() + 2          # <bos> words =
        self.max_new_tokens = self.grammar.max_source_words() + 1      # words <eos>
        self._prompts = {s: self._encode_prompts([src for src, _ in p]) for s, p in self.pairs.items()}
        self._reference = {tuple(row.tolist()): ref for s, p in self.pairs.items()
                           for row, (_, ref) in zip(self._prompts[s], p)}

    def _encode_prompts(self, sources: list[str]) -> torch.Tensor:
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
        ids = torch.full((len(refs), self.max_new_tokens), PAD_ID)
        mask = torch.zeros(len(refs), self.max_new_tokens)
        for i, ref in enumerate(refs):
            row = [*self.vocab.encode(ref), EOS_ID]
            ids[i, :len(row)], mask[i, :len(row)] = torch.tensor(row), 1.0
        return ids, mask

    def sample_prompts(self, n: int, generator: torch.Generator) -> torch.Tensor:
        pool = self.prompts()
        return pool[torch.randint(len(pool), (checks.positive_int("n", n),), generator=generator)]

    def references(self, prompt_ids: torch.Tensor) -> list[str]:
        """The reference translation of each prompt row."""
        refs = []
        for row in prompt_ids.tolist():
            if tuple(row) not in self._reference:
                raise ValueError("prompt not in this task's corpus: " + self.vocab.decode(row))
            refs.append(self._reference[tuple(row)])
        return refs

    def fluency_reward(self, *, lm_steps: int = 400, seed: int = 0) -> FluencyReward:
        """Fluency in the *target* language: a reference LM fitted to the training references,
        scoring a completion as a sentence on its own. Add it with ``task.plus(...)``."""
        sentences = [ref for _, ref in self.pairs["train"]]
        return FluencyReward(reference_lm(self.vocab, sentences, steps=lm_steps, seed=seed), use_prompt=False)

    def reward(self, prompt_ids, completion_ids, mask):
        hyps = self.decode(completion_ids.cpu())
        scores = METRICS[self.metric](hyps, self.references(prompt_ids.cpu()))
        return at_last_token(scores.to(mask.device), mask)
