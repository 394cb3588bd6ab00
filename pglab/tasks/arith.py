"""Addition with a verifiable reward: ``"17+25="`` → ``"42"``, right or wrong.

The kind of task GRPO is used for today (math with a checker): the reward needs no
reference model and no metric, only the exact answer,

    r = [decoded completion == str(a + b)]  +  format_coef · [completion is digits, then EOS]

paid on the last valid token. The optional *format* term (0 by default) pays for the
shape of an answer whatever its value — a small dense hint that a weak start can climb.

Problems are every pair ``a + b`` with ``0 <= a, b < 10**digits``. A seeded shuffle of the
*unordered* pairs {a, b} puts ``test_fraction`` of them in a held-out test split, both
orders together, so ``25+17=`` is never seen in training when ``17+25=`` is a test prompt.

Vocabularies: pglab's own is the ten digits, ``+`` and ``=`` (its own ``Vocab``; no other
task's vocabulary changes), one token per character; decoding joins the digits without
spaces, so the text is ``"42"`` under either vocabulary. With ``tokenizer=tok`` prompts
and completions are that tokenizer's encoding of the same strings.
"""
from __future__ import annotations

import torch

from .. import checks
from ..vocab import Vocab
from .base import Task, at_last_token
from .text import as_vocab, encode_completions, encode_prompts, ended

SPLITS = ("train", "test")
DIGITS = "0123456789"


class ArithTask(Task):
    """Add two numbers; rewarded by exact match on the decoded answer (plus an optional format term).

    ``max_new_tokens`` (default: the longest answer and EOS) may be raised to give a
    policy room to write longer, wrong, answers — to see a length bias if there is one.
    """

    name = "arith"

    def __init__(self, *, digits: int = 2, test_fraction: float = 0.2, seed: int = 0, split: str = "train",
                 format_coef: float = 0.0, max_new_tokens: int | None = None, tokenizer=None) -> None:
        self.digits = checks.positive_int("digits", digits, maximum=4)
        self.split = checks.choice("split", split, SPLITS)
        test_fraction = checks.unit_interval("test_fraction", test_fraction)
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1) so that both splits are non-empty, "
                             f"got {test_fraction!r}")
        self.format_coef = float(checks.unit_interval("format_coef", format_coef))
        self.seed, self.tokenizer = seed, tokenizer
        self.problems = self._split(10 ** self.digits, test_fraction, seed)
        self.vocab = as_vocab(tokenizer) if tokenizer is not None else Vocab([*DIGITS, "+", "="])
        problems = self.problems["train"] + self.problems["test"]
        prompts = encode_prompts(self.vocab, [self._spell(self._prompt_text(a, b)) for a, b in problems])
        self.prompt_len = prompts.shape[1]                                                    # <bos> a+b=, left-padded
        answers, _ = encode_completions(self.vocab, [self._spell(str(a + b)) for a, b in problems])
        self.max_new_tokens = answers.shape[1]                                                # digits <eos>
        if max_new_tokens is not None:                      # room to ramble: lets a length drift show
            self.max_new_tokens = checks.positive_int("max_new_tokens", max_new_tokens, minimum=answers.shape[1],
                                                      maximum=64)
        n_train = len(self.problems["train"])
        self._prompts = {"train": prompts[:n_train], "test": prompts[n_train:]}
        self._answer = {tuple(row.tolist()): a + b for s, p in self.problems.items()
                        for row, (a, b) in zip(self._prompts[s], p)}

    @staticmethod
    def _split(n: int, test_fraction: float, seed: int) -> dict[str, list[tuple[int, int]]]:
        """Seeded split of all (a, b) by unordered pair: both orders land in the same split."""
        pairs = [(a, b) for a in range(n) for b in range(a, n)]                  # unordered, a <= b
        order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed)).tolist()
        n_test = max(1, round(test_fraction * len(pairs)))
        out: dict[str, list[tuple[int, int]]] = {}
        for split, picks in (("test", order[:n_test]), ("train", order[n_test:])):
            both = {(a, b) for i in picks for a, b in (pairs[i], pairs[i][::-1])}
            out[split] = sorted(both)
        return out

    @staticmethod
    def _prompt_text(a: int, b: int) -> str:
        return f"{a}+{b}="

    def _spell(self, text: str) -> str:
        """pglab's own vocabulary reads space-separated tokens: one per character."""
        return text if self.tokenizer is not None else " ".join(text)

    def texts(self) -> list[str]:
        """Every problem with its answer, ``"17+25=42"``: a corpus for a tokenizer."""
        return [f"{self._prompt_text(a, b)}{a + b}" for s in SPLITS for a, b in self.problems[s]]

    def prompts(self, split: str | None = None) -> torch.Tensor:
        """All prompts of a split (N, P), left-padded, in sorted (a, b) order."""
        return self._prompts[checks.choice("split", split or self.split, SPLITS)]

    def targets(self, split: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The answers of a split as (ids (N, T), mask (N, T)), EOS included — for MLE."""
        problems = self.problems[checks.choice("split", split or self.split, SPLITS)]
        answers = [self._spell(str(a + b)) for a, b in problems]
        return encode_completions(self.vocab, answers, self.max_new_tokens)

    def sample_prompts(self, n: int, generator: torch.Generator) -> torch.Tensor:
        pool = self.prompts()
        return pool[torch.randint(len(pool), (checks.positive_int("n", n),), generator=generator)]

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Completions as text; pglab's own vocabulary joins its characters without spaces."""
        return ["".join(self.vocab.decode(row.tolist()).split()) for row in ids]

    def answers(self, prompt_ids: torch.Tensor) -> list[int]:
        """The correct sum of each prompt row."""
        out = []
        for row in prompt_ids.tolist():
            if tuple(row) not in self._answer:
                raise ValueError("prompt not in this task's problems: " + self.vocab.decode(row))
            out.append(self._answer[tuple(row)])
        return out

    def score(self, texts: list[str], answers: list[int], stopped: list[bool]) -> torch.Tensor:
        """The reward on decoded text (B,): exact match plus ``format_coef`` · well-formed.

        >>> ArithTask(format_coef=0.1).score(["42", "41", "4x"], [42, 42, 42], [True, True, True])
        tensor([1.1000, 0.1000, 0.0000])
        """
        correct = [float(t == str(a)) for t, a in zip(texts, answers)]                   # exact match
        formed = [float(s and t.isdigit() and t.isascii()) for t, s in zip(texts, stopped)]   # digits, then EOS
        return torch.tensor(correct) + self.format_coef * torch.tensor(formed)

    def reward(self, prompt_ids, completion_ids, mask):
        stopped = ended(completion_ids, mask, getattr(self.vocab, "eos_id", 2)).tolist()
        scores = self.score(self.decode(completion_ids.cpu()), self.answers(prompt_ids.cpu()), stopped)
        return at_last_token(scores.to(mask.device), mask)

    @torch.no_grad()
    def evaluate(self, policy, split: str = "test") -> dict[str, float]:
        """Greedy accuracy on every prompt of ``split`` and the mean completion length (valid tokens)."""
        from ..rollout import sample
        prompts = self.prompts(split)
        ro = sample(policy, prompts, self.max_new_tokens, generator=torch.Generator(), greedy=True)
        texts, answers = self.decode(ro.completion_ids.cpu()), self.answers(prompts)
        accuracy = sum(t == str(a) for t, a in zip(texts, answers)) / len(answers)
        return {"accuracy": accuracy, "length": float(ro.mask.sum(1).mean())}
