"""The random numbers the chapter 06 checks draw (their masks come from ``..masks``)."""
from __future__ import annotations

import torch


def _rand(lo: float, hi: float, g: torch.Generator) -> float:
    return round(lo + (hi - lo) * float(torch.rand(1, generator=g)), 2)
