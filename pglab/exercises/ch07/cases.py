"""The random masks the chapter 07 checks draw, and the tolerance a symptom compares with.

``mask[i, t]`` is 1 on the tokens actually written (up to and including ``<eos>``) and 0 after it. Row 0 of a
ragged mask runs to the last column and row 1 ends early. ``_close`` is how a symptom decides that the
student's output equals a known wrong answer's: same shape, finite, equal up to float error.
"""
from __future__ import annotations

from typing import Any

import torch

from ..masks import _mask, _ragged  # noqa: F401  (the chapter's checks import them from here)


def _close(a: Any, b: Any) -> bool:
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and torch.allclose(a, b, rtol=1e-4, atol=1e-5)
