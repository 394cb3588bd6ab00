"""The random masks and numbers the chapter 06 checks draw.

``mask[i, t]`` is 1 on the tokens actually written (up to and including ``<eos>``) and 0 after it. Row 0 of a
ragged mask runs to the last column and row 1 ends early, so every batch has both a full and a cut-short
completion: an answer that forgets the mask is caught on the first case.
"""
from __future__ import annotations

import torch


def _mask(lengths: list[int], T: int) -> torch.Tensor:
    return (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).float()


def _ragged(B: int, T: int, g: torch.Generator) -> torch.Tensor:
    lengths = torch.randint(1, T + 1, (B,), generator=g).tolist()
    lengths[0] = T
    if B > 1 and T > 1:
        lengths[1] = int(torch.randint(1, T, (1,), generator=g))
    return _mask(lengths, T)


def _rand(lo: float, hi: float, g: torch.Generator) -> float:
    return round(lo + (hi - lo) * float(torch.rand(1, generator=g)), 2)
