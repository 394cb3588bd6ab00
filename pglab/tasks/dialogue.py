"""A dialogue-style toy: answer a user's line with a rule-based, ELIZA-like response.

    i like the big cats        →  why do you like the big cats
    do you see a mouse         →  yes i see a mouse
    hello                      →  hello how are you

Lines are built from the toy grammar (:mod:`pglab.tasks.toylang`) with a seed;
responses follow the rules above, and the reward is sentence chrF (or BLEU)
against the rule's response — a prompt→response task with the same machinery
as translation.
"""
from __future__ import annotations

import torch

from .. import checks
from .pairs import PairTask
from .toylang import PLURALS, Grammar, _pick, sample_phrase

GREETINGS = {"hello": "hello how are you", "thanks": "you are welcome", "bye": "goodbye see you soon"}


def _np(grammar: Grammar, generator: torch.Generator) -> str:
    p = sample_phrase(grammar, generator)
    return " ".join([p.det] + ([p.adj] if p.adj else []) + [PLURALS[p.noun] if p.plural else p.noun])


def dialogue_corpus(grammar: Grammar, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` distinct (user line, response) pairs, deterministic in ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    pairs: dict[str, str] = dict(GREETINGS)
    for _ in range(50 * n):
        if len(pairs) >= n:
            break
        verb, np = _pick(grammar.verbs, generator), _np(grammar, generator)
        if bool(torch.rand(1, generator=generator) < 0.5):
            pairs.setdefault(f"i {verb} {np}", f"why do you {verb} {np}")
        else:
            pairs.setdefault(f"do you {verb} {np}", f"yes i {verb} {np}")
    items = list(pairs.items())
    order = torch.randperm(len(items), generator=generator).tolist()   # greetings land in both splits
    return [items[i] for i in order]


class DialogueTask(PairTask):
    """Respond to a user's line; rewarded by chrF (default) or BLEU against the rule's response."""

    def __init__(self, *, metric: str = "chrf", n_pairs: int = 1500, test_fraction: float = 0.1,
                 seed: int = 0, split: str = "train", grammar: Grammar | None = None, tokenizer=None) -> None:
        self.grammar = grammar or Grammar()
        n_pairs = checks.positive_int("n_pairs", n_pairs, minimum=len(GREETINGS) + 2, maximum=100_000)
        super().__init__(dialogue_corpus(self.grammar, n_pairs, seed), name="dialogue", metric=metric,
                         test_fraction=test_fraction, split=split, tokenizer=tokenizer)
        if metric == "chrf":
            self.name = "dialogue"
