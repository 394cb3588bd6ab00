"""Continue a sentence fluently: reward = log-likelihood under a frozen reference LM.

Prompts are ``<bos>`` followed by the first word of a toy-English sentence; the
policy writes the rest. The reward is :class:`pglab.rewards.FluencyReward`: the
length-normalised log-likelihood (minus log-perplexity) of the completion under a
reference GRU trained by maximum likelihood on the grammar's sentences.
Without a KL penalty to the reference, a policy maximises this reward by collapsing
onto the handful of sentences the reference LM likes best (mode collapse, chapter 06: a
specification problem — the reward's own optimum is degenerate — not reward hacking).
With penalty β > 0 the optimum is π*(τ) ∝ π_ref(τ) · exp(ℓ̄(τ)/β), ℓ̄(τ) the mean token
log-probability of the completion under π_ref (= the reward), i.e. π_ref(τ)^(1 + 1/(nβ))
for a completion of n tokens. The exponent depends on n, so π* is a "colder" copy of the
reference only among completions of equal length; it reweights whole sequences and is not
a per-token temperature.

With ``tokenizer=tok`` the prompt is ``<bos>`` and the first word through the tokenizer,
the completion the rest of the sentence (``" cat sees a dog"``); the reward decodes it
and scores the words with the same reference LM (:class:`pglab.rewards.TextFluency`).
"""
from __future__ import annotations

import torch

from .. import checks
from ..reference_lm import reference_lm
from ..rewards import FluencyReward, TextFluency
from ..vocab import BOS_ID, Vocab
from .base import Task
from .text import as_vocab, encode_many, encode_prompts
from .toylang import Grammar, render_source, sample_sentence


class FluencyTask(Task):
    """Write a sentence of toy-English that the reference LM finds likely."""

    name = "fluency"

    def __init__(self, *, n_sentences: int = 2000, seed: int = 0, grammar: Grammar | None = None,
                 lm_steps: int = 400, tokenizer=None) -> None:
        self.grammar = grammar or Grammar()
        n_sentences = checks.positive_int("n_sentences", n_sentences, maximum=100_000)
        generator = torch.Generator().manual_seed(seed)
        self.sentences = [render_source(sample_sentence(self.grammar, generator)) for _ in range(n_sentences)]
        self.vocab = Vocab(self.grammar.source_words())
        self.max_new_tokens = self.grammar.max_source_words()  # words after the first, plus EOS
        self.first_words = torch.tensor(sorted({self.vocab.index[s.split()[0]] for s in self.sentences}))
        self.lm = reference_lm(self.vocab, self.sentences, steps=lm_steps, seed=seed)
        self.fluency = FluencyReward(self.lm, use_prompt=True)
        self.tokenizer = tokenizer
        if tokenizer is not None:
            self.word_vocab, self.vocab = self.vocab, as_vocab(tokenizer)
            self.first_texts = [self.word_vocab.tokens[i] for i in self.first_words.tolist()]
            self.prompt_len = max(len(self.vocab.encode(w)) for w in self.first_texts) + 1
            rests = [" " + " ".join(s.split()[1:]) for s in self.sentences]
            self.max_new_tokens = max(map(len, encode_many(self.vocab, rests))) + 1
            self.fluency = TextFluency(self.fluency, self.word_vocab, self.vocab)

    def texts(self) -> list[str]:
        """The grammar's sentences: a corpus for a tokenizer."""
        return list(self.sentences)

    def sample_prompts(self, n: int, generator: torch.Generator) -> torch.Tensor:
        picks = torch.randint(len(self.first_words), (checks.positive_int("n", n),), generator=generator)
        if self.tokenizer is not None:
            return encode_prompts(self.vocab, [self.first_texts[i] for i in picks.tolist()], self.prompt_len)
        return torch.stack([torch.full((len(picks),), BOS_ID), self.first_words[picks]], 1)  # (n, 2)

    def reward(self, prompt_ids, completion_ids, mask):
        return self.fluency(prompt_ids, completion_ids, mask)
