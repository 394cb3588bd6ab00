"""The random masks and numbers the chapter 06 checks draw.

``mask[i, t]`` is 1 on the tokens actually written (up to and including ``<eos>``) and 0 after it. Row 0 of a
ragged mask runs to the last column and row 1 ends early, so every batch has both a full and a cut-short
completion: an answer that forgets the mask is caught on the first case.
"""
from __future__ import annotations

import torch

from ..masks import _mask, _ragged  # noqa: F401  (the chapter's checks import them from here)


def _rand(lo: float, hi: float, g: torch.Generator) -> float:
    return round(lo + (hi - lo) * float(torch.rand(1, generator=g)), 2)
