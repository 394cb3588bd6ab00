"""The Task contract: a task owns its prompts and its reward.

A task exposes

* ``vocab`` — the :class:`~pglab.vocab.Vocab` both prompt and completion use;
* ``max_new_tokens`` — the horizon T of a completion (EOS included);
* ``sample_prompts(n, generator) -> (n, P)`` — prompts of one fixed length P,
  left-padded with PAD where sentences are shorter;
* ``reward(prompt_ids, completion_ids, mask) -> (B, T)`` — one reward per
  completion token. A *sequence* reward sits on the last valid token, so that
  ``rewards.sum(1)`` is always the episode return.

Tasks are generated from a seed by code: nothing is ever downloaded.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch

from ..rewards import at_last_token  # noqa: F401  (re-exported for tasks)
from ..vocab import Vocab

RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class Task(ABC):
    """Base class of every task; see the module docstring for the contract."""

    name: str = "task"
    vocab: Vocab
    max_new_tokens: int
    per_token: bool = False
    """True when r_t depends only on tokens up to t (so it can be paid as each token arrives)."""

    @abstractmethod
    def sample_prompts(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Draw ``n`` prompts, shape (n, P), using only ``generator`` for randomness."""

    @abstractmethod
    def reward(self, prompt_ids: torch.Tensor, completion_ids: torch.Tensor,
               mask: torch.Tensor) -> torch.Tensor:
        """Per-token rewards (B, T); zero where ``mask`` is zero."""

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Detokenise a batch of completions (B, T) into strings."""
        return [self.vocab.decode(row.tolist()) for row in ids]

    def plus(self, extra: RewardFn, coef: float = 1.0) -> "Task":
        """A copy of this task whose reward is ``reward + coef * extra(...)``."""
        return RewardSum(self, extra, coef)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, V={len(self.vocab)}, T={self.max_new_tokens})"


class RewardSum(Task):
    """A task with an extra reward term added, e.g. fluency on top of BLEU."""

    def __init__(self, base: Task, extra: RewardFn, coef: float) -> None:
        extra_v = getattr(extra, "vocab_size", len(base.vocab))
        if extra_v != len(base.vocab):
            raise ValueError(f"the extra reward's vocab_size={extra_v} does not match the task's "
                             f"vocabulary size {len(base.vocab)}; train its reference LM on this task's vocabulary")
        self.base, self.extra, self.coef = base, extra, float(coef)
        self.name = f"{base.name}+{getattr(extra, 'name', 'extra')}"
        self.vocab, self.max_new_tokens = base.vocab, base.max_new_tokens

    def sample_prompts(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.base.sample_prompts(n, generator)

    def reward(self, prompt_ids, completion_ids, mask):
        return (self.base.reward(prompt_ids, completion_ids, mask)
                + self.coef * self.extra(prompt_ids, completion_ids, mask))



class FixedPrompts(Task):
    """A task restricted to a fixed list of prompts, drawn uniformly — so that the
    prompt distribution, too, can be enumerated exactly (see :mod:`pglab.exact`)."""

    def __init__(self, base: Task, prompts: torch.Tensor) -> None:
        self.base, self.prompts = base, prompts
        self.name, self.vocab, self.max_new_tokens = base.name, base.vocab, base.max_new_tokens
        self.per_token = base.per_token

    def sample_prompts(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.prompts[torch.randint(len(self.prompts), (n,), generator=generator)]

    def reward(self, prompt_ids, completion_ids, mask):
        return self.base.reward(prompt_ids, completion_ids, mask)
