"""Tasks through any tokenizer: a tokenizer dressed as a pglab vocabulary.

A task speaks text ("c a b =" → "c a b", "17+25=" → "42"). With pglab's own
:class:`~pglab.vocab.Vocab` every word is one token; with a Hugging Face tokenizer
a word may be one token, several, or share a token with a space. :class:`TokenizerVocab`
gives a ``transformers`` tokenizer the few methods a task calls on its vocabulary
(``len``, ``encode``, ``decode``, ``words``) and names its special ids, so the same
task code builds prompts and completions for either vocabulary:

* a prompt is ``[bos] + encode(prompt text)``, left-padded with the pad id;
* a completion is ``encode(completion text) + [eos]``; the tokenizer's EOS ends it;
* a reward about text (BLEU, chrF, fluency, exact match) is computed on
  ``decode(completion)``, which is the same string under both vocabularies, so the
  same reward code serves both.

:func:`special_ids` reads (pad, bos, eos) from either kind of vocabulary.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from ..vocab import BOS_ID, EOS_ID, PAD_ID


class TokenizerVocab:
    """A ``transformers`` tokenizer seen through pglab's ``Vocab`` interface.

    The tokenizer needs pad, bos and eos tokens (``pg.hf.train_tokenizer`` makes all
    three). ``decode`` stops at the first EOS, drops special tokens and strips the
    surrounding whitespace (a byte-level BPE may put a space before the first word).
    """

    def __init__(self, tokenizer) -> None:
        missing = [name for name in ("pad_token_id", "bos_token_id", "eos_token_id")
                   if getattr(tokenizer, name, None) is None]
        if missing:
            raise ValueError(f"tokenizer must define pad, bos and eos tokens; missing: {', '.join(missing)} "
                             "(pg.hf.train_tokenizer makes all three)")
        self.tokenizer = tokenizer
        self.pad_id, self.bos_id, self.eos_id = tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id
        self.tokens: list[str] = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokenizer)

    def __repr__(self) -> str:
        return f"TokenizerVocab({len(self)} tokens, {type(self.tokenizer).__name__})"

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``, no special tokens added."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`encode` of many texts in one call to the tokenizer (much faster than a loop)."""
        return [list(row) for row in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def decode(self, ids: Iterable[int]) -> str:
        """Text up to (not including) the first EOS after any leading pad/BOS, special tokens dropped, stripped.

        Leading pad and BOS are skipped first, so a tokenizer whose BOS is its EOS (a common
        choice for models trained without BOS) still decodes a whole prompt.
        """
        kept, started = [], False
        for i in map(int, ids):
            if not started and i in (self.pad_id, self.bos_id):
                continue
            started = True
            if i == self.eos_id:
                break
            kept.append(i)
        return self.tokenizer.decode(kept, skip_special_tokens=True).strip()

    def words(self, ids: Iterable[int]) -> list[str]:
        """The whitespace-separated words of :meth:`decode`."""
        return self.decode(ids).split()


def as_vocab(tokenizer):
    """``None`` stays ``None`` (the task builds its own vocabulary); a tokenizer is wrapped."""
    if tokenizer is None or isinstance(tokenizer, TokenizerVocab):
        return tokenizer
    return TokenizerVocab(tokenizer)


def encode_many(vocab, texts: Sequence[str]) -> list[list[int]]:
    """``vocab.encode`` of every text (one batched call for a tokenizer)."""
    if hasattr(vocab, "encode_batch"):
        return vocab.encode_batch(texts)
    return [vocab.encode(t) for t in texts]


def special_ids(vocab) -> tuple[int, int, int]:
    """(pad, bos, eos) of a pglab ``Vocab`` (0, 1, 2) or of a :class:`TokenizerVocab`."""
    return (getattr(vocab, "pad_id", PAD_ID), getattr(vocab, "bos_id", BOS_ID), getattr(vocab, "eos_id", EOS_ID))


def encode_prompts(vocab, texts: Sequence[str], length: int | None = None) -> torch.Tensor:
    """``[bos] + encode(text)`` for each text, left-padded to one length, shape (N, P)."""
    pad, bos, _ = special_ids(vocab)
    rows = [[bos, *ids] for ids in encode_many(vocab, texts)]
    length = max(map(len, rows)) if length is None else length
    return torch.tensor([[pad] * (length - len(row)) + row for row in rows], dtype=torch.long)   # left-pad


def encode_completions(vocab, texts: Sequence[str], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``encode(text) + [eos]`` for each text, right-padded: (ids (N, T), mask (N, T))."""
    pad, _, eos = special_ids(vocab)
    rows = [[*ids, eos] for ids in encode_many(vocab, texts)]
    length = max(map(len, rows)) if length is None else length
    rows = [row[:length] for row in rows]
    ids = torch.tensor([row + [pad] * (length - len(row)) for row in rows], dtype=torch.long)
    mask = torch.tensor([[1.0] * len(row) + [0.0] * (length - len(row)) for row in rows])
    return ids, mask


def ended(completion_ids: torch.Tensor, mask: torch.Tensor, eos_id: int) -> torch.Tensor:
    """(B,) bool: the completion's last valid token is EOS (it stopped, not ran out of horizon)."""
    last = (mask.sum(1).long() - 1).clamp_min(0)
    rows = torch.arange(len(mask), device=mask.device)
    return (completion_ids[rows, last] == eos_id) & (mask.sum(1) > 0)
