"""Vocabulary: the token alphabet a policy reads and writes.

Three special tokens sit at fixed ids in every vocabulary, so padding and
end-of-sequence handling is the same for every task:

* ``PAD_ID = 0`` fills positions after EOS (and left-pads prompts); masked out.
* ``BOS_ID = 1`` starts every prompt.
* ``EOS_ID = 2`` ends a completion; it is a real action with a real log-prob.

>>> v = Vocab(["a", "b", "="])
>>> v.encode("a b =")
[3, 4, 5]
>>> v.decode([3, 4, 2, 0])
'a b'
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
SPECIALS = (PAD, BOS, EOS)


class Vocab:
    """An ordered list of tokens with the three specials in front."""

    def __init__(self, tokens: Iterable[str]) -> None:
        tokens = [t for t in tokens if t not in SPECIALS]
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        if not tokens:
            raise ValueError("vocabulary needs at least one non-special token")
        self.tokens: list[str] = [*SPECIALS, *tokens]
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {' '.join(self.tokens[:12])}{' …' if len(self) > 12 else ''})"

    def encode(self, text: str | Sequence[str]) -> list[int]:
        """Map space-separated words (or a list of tokens) to ids."""
        words = text.split() if isinstance(text, str) else list(text)
        unknown = [w for w in words if w not in self.index]
        if unknown:
            raise ValueError(f"tokens not in the vocabulary: {unknown[:5]}")
        return [self.index[w] for w in words]

    def words(self, ids: Iterable[int]) -> list[str]:
        """Tokens up to (not including) the first EOS, skipping PAD and BOS."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                out.append(self.tokens[i])
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Detokenise: the words of :meth:`words` joined by single spaces."""
        return " ".join(self.words(ids))
