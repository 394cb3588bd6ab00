"""The random masks the chapter 07 checks draw, and the tolerance a symptom compares with.

``mask[i, t]`` is 1 on the tokens actually written (up to and including ``<eos>``) and 0 after it. Row 0 of a
ragged mask runs to the last column and row 1 ends early. ``_close`` is how a symptom decides that the
student's output equals a known wrong answer's: same shape, finite, equal up to float error.
"""
from __future__ import annotations

from typing import Any

import torch


def _mask(lengths: list[int], T: int) -> torch.Tensor:
    return (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).float()


def _ragged(B: int, T: int, g: torch.Generator) -> torch.Tensor:
    lengths = torch.randint(1, T + 1, (B,), generator=g).tolist()
    lengths[0] = T
    if B > 1 and T > 1:
        lengths[1] = int(torch.randint(1, T, (1,), generator=g))
    return _mask(lengths, T)


def _close(a: Any, b: Any) -> bool:
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and torch.allclose(a, b, rtol=1e-4, atol=1e-5)
