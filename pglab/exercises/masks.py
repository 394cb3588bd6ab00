"""The masks the exercise checks draw: which tokens of a batch were actually written.

``mask[i, t]`` is 1 on the tokens sample i actually wrote (up to and including ``<eos>``) and 0 after it, as
everywhere in pglab. A ragged batch has row 0 running to the last column and row 1 ending early, so every
batch holds both a full and a cut-short completion: an answer that forgets the mask is caught on the first case.
"""
from __future__ import annotations

import torch


def _mask(lengths: list[int], T: int) -> torch.Tensor:
    """(B, T) float mask with ``lengths[i]`` leading ones in row i."""
    return (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).float()


def _ragged_lengths(B: int, T: int, g: torch.Generator) -> list[int]:
    """B lengths in 1..T drawn from ``g``: row 0 full (T), row 1 cut short (when B > 1 and T > 1)."""
    lengths = torch.randint(1, T + 1, (B,), generator=g).tolist()
    lengths[0] = T
    if B > 1 and T > 1:
        lengths[1] = int(torch.randint(1, T, (1,), generator=g))
    return lengths


def _ragged(B: int, T: int, g: torch.Generator) -> torch.Tensor:
    """A ragged (B, T) mask drawn from ``g`` (see :func:`_ragged_lengths`)."""
    return _mask(_ragged_lengths(B, T, g), T)
