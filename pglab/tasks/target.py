"""Copy or reverse a short random string: the default, fast-to-learn task.

The prompt is ``<bos> x1 … xL =`` with letters drawn uniformly; the target is
``x1 … xL <eos>`` (copy) or ``xL … x1 <eos>`` (reverse). Two reward variants
carry the *same* total, so only its timing differs:

* ``dense``: r_t = 1/(L+1) when completion token t equals target token t;
* ``sparse``: the sum of those per-token credits, paid on the last valid token.

With dense rewards reward-to-go G_t sees only the credit still to come, so γ
and causality visibly matter; with sparse rewards every token gets the same
return and only a baseline can tell good tokens from bad.
"""
from __future__ import annotations

import string

import torch

from .. import checks
from ..vocab import BOS_ID, EOS_ID, Vocab
from .base import Task, at_last_token
from .text import as_vocab, encode_completions, encode_prompts, ended

REWARD_KINDS = ("dense", "sparse")
MODES = ("copy", "reverse")


MAX_LENGTH = 256
"""Longest string a copy/reverse task generates (the policy's horizon is length + 1)."""


class TargetTask(Task):
    """Write a target string derived from the prompt, token by token."""

    def __init__(self, mode: str = "copy", *, length: int = 3, alphabet: int = 4,
                 reward: str = "dense", tokenizer=None) -> None:
        self.mode = checks.choice("mode", mode, MODES)
        self.reward_kind = checks.choice("reward", reward, REWARD_KINDS)
        self.length = checks.positive_int("length", length, maximum=MAX_LENGTH)
        self.alphabet = checks.positive_int("alphabet", alphabet, minimum=2)
        if self.alphabet > 26:
            raise ValueError(f"alphabet must be in [2, 26], got {alphabet!r}")
        self.name = f"{mode}" if reward == "dense" else f"{mode}-{reward}"
        letters = list(string.ascii_lowercase[: self.alphabet])
        self.vocab = Vocab([*letters, "="])
        self.letter_ids = torch.tensor(self.vocab.encode(letters))
        self.sep_id = self.vocab.index["="]
        self.max_new_tokens = self.length + 1
        self.per_token = self.reward_kind == "dense"  # r_t depends only on tokens up to t
        self.letters, self.tokenizer = letters, tokenizer
        if tokenizer is not None:                       # the words' vocabulary gives way to the tokenizer's
            self.vocab, self.per_token = as_vocab(tokenizer), False
            self.prompt_len = 2 * self.length + 2         # <bos> and "c a b =" (a token holds >= 1 character)
            self.max_new_tokens = 2 * self.length + 1     # " c a b" and <eos>

    def texts(self, n: int = 200, seed: int = 0) -> list[str]:
        """``n`` example lines ``"c a b = c a b"`` (prompt and completion): a corpus for a tokenizer."""
        generator = torch.Generator().manual_seed(seed)
        picks = torch.randint(self.alphabet, (n, self.length), generator=generator).tolist()
        return [f"{self._prompt_text(p)} {' '.join(self._target_words(self._prompt_words(p)))}" for p in picks]

    def _prompt_words(self, picks: list[int]) -> list[str]:
        return [self.letters[i] for i in picks]

    def _prompt_text(self, picks: list[int]) -> str:
        return " ".join(self._prompt_words(picks)) + " ="

    def _target_words(self, letters: list[str]) -> list[str]:
        return letters[::-1] if self.mode == "reverse" else letters

    def sample_prompts(self, n: int, generator: torch.Generator) -> torch.Tensor:
        n = checks.positive_int("n", n)
        picks = torch.randint(self.alphabet, (n, self.length), generator=generator)
        if self.tokenizer is not None:
            return encode_prompts(self.vocab, [self._prompt_text(p) for p in picks.tolist()], self.prompt_len)
        bos = torch.full((n, 1), BOS_ID)
        sep = torch.full((n, 1), self.sep_id)
        return torch.cat([bos, self.letter_ids[picks], sep], dim=1)  # (n, L + 2)

    def targets(self, prompt_ids: torch.Tensor) -> torch.Tensor:
        """The completion the task wants, shape (B, L + 1), ending in EOS (through a tokenizer: its
        encoding of ``" c a b"`` and EOS, right-padded to ``max_new_tokens``)."""
        if self.tokenizer is not None:
            texts = [" " + " ".join(self._target_words(self.vocab.words(row)[:-1])) for row in prompt_ids.tolist()]
            return encode_completions(self.vocab, texts, self.max_new_tokens)[0]
        letters = prompt_ids[:, 1:1 + self.length]
        if self.mode == "reverse":
            letters = letters.flip(1)
        eos = torch.full_like(letters[:, :1], EOS_ID)
        return torch.cat([letters, eos], dim=1)

    def reward(self, prompt_ids, completion_ids, mask):
        if self.tokenizer is not None:
            return self._text_reward(prompt_ids, completion_ids, mask)
        hits = (completion_ids == self.targets(prompt_ids).to(completion_ids.device)).float()
        credit = hits * mask / (self.length + 1)  # (B, T) dense credit, total in [0, 1]
        if self.reward_kind == "dense":
            return credit
        return at_last_token(credit.sum(1), mask)

    def _text_reward(self, prompt_ids, completion_ids, mask):
        """Word-level credit on the decoded text: Σ_i [word_i = target_i] + [stopped after L words]."""
        stopped = ended(completion_ids, mask, self.vocab.eos_id).tolist()
        totals = []
        for prompt, completion, stop in zip(prompt_ids.tolist(), completion_ids.tolist(), stopped):
            target = self._target_words(self.vocab.words(prompt)[:-1])       # the letters before "="
            words = self.vocab.words(completion)
            hits = sum(w == t for w, t in zip(words, target)) + (stop and len(words) == self.length)
            totals.append(hits / (self.length + 1))
        return at_last_token(torch.tensor(totals), mask)
