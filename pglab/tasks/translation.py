"""Tiny translation: turn a toy-English sentence into the toy target language.

The parallel corpus comes from :mod:`pglab.tasks.toylang` (rules, a lexicon and
a seed), split into train and test sentences; rewards are sentence BLEU or chrF
(see :class:`~pglab.tasks.pairs.PairTask`).
"""
from __future__ import annotations

from .. import checks
from .pairs import PairTask
from .toylang import Grammar, parallel_corpus


MAX_PAIRS = 100_000
"""Largest generated corpus (building one takes ~1 s per 10k pairs)."""


class TranslationTask(PairTask):
    """Translate toy-English into the toy target language, rewarded by BLEU or chrF."""

    def __init__(self, *, metric: str = "bleu", n_pairs: int = 4000, test_fraction: float = 0.1,
                 seed: int = 0, split: str = "train", grammar: Grammar | None = None, tokenizer=None) -> None:
        self.grammar = grammar or Grammar()
        n_pairs = checks.positive_int("n_pairs", n_pairs, minimum=2, maximum=MAX_PAIRS)
        # every word of both languages is in the vocabulary, seen in the corpus or not
        extra = [*self.grammar.source_words(), *self.grammar.target_words()]
        super().__init__(parallel_corpus(self.grammar, n_pairs, seed), name="translate", metric=metric,
                         test_fraction=test_fraction, split=split, extra_tokens=extra, tokenizer=tokenizer)
