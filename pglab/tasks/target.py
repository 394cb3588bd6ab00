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

REWARD_KINDS = ("dense", "sparse")
MODES = ("copy", "reverse")


MAX_LENGTH = 256
"""Longest string a copy/reverse task generates (the policy's horizon is length + 1)."""


class TargetTask(Task):
    """Write a target string derived from the prompt, token by token."""

    def __init__(self, mode: str = "copy", *, length: int = 3, alphabet: int = 4,
                 reward: str = "dense") -> None:
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

    def sample_prompts(self, n: int, generator: torch.Generator) -> torch.Tensor:
        n = checks.positive_int("n", n)
        picks = torch.randint(self.alphabet, (n, self.length), generator=generator)
        bos = torch.full((n, 1), BOS_ID)
        sep = torch.full((n, 1), self.sep_id)
        return torch.cat([bos, self.letter_ids[picks], sep], dim=1)  # (n, L + 2)

    def targets(self, prompt_ids: torch.Tensor) -> torch.Tensor:
        """The completion the task wants, shape (B, L + 1), ending in EOS."""
        letters = prompt_ids[:, 1:1 + self.length]
        if self.mode == "reverse":
            letters = letters.flip(1)
        eos = torch.full_like(letters[:, :1], EOS_ID)
        return torch.cat([letters, eos], dim=1)

    def reward(self, prompt_ids, completion_ids, mask):
        hits = (completion_ids == self.targets(prompt_ids).to(completion_ids.device)).float()
        credit = hits * mask / (self.length + 1)  # (B, T) dense credit, total in [0, 1]
        if self.reward_kind == "dense":
            return credit
        return at_last_token(credit.sum(1), mask)
