"""The tolerance a chapter 07 symptom compares with (the random masks the checks draw are in ``..masks``).

``_close`` is how a symptom decides that the student's output equals a known wrong answer's: same shape,
finite, equal up to float error.
"""
from __future__ import annotations

from typing import Any

import torch


def _close(a: Any, b: Any) -> bool:
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and torch.allclose(a, b, rtol=1e-4, atol=1e-5)
