"""The random episodes every chapter 05 check draws, and the symptoms of a NaN or an inf.

Tensor conventions as in :mod:`pglab.advantages`: ``rewards[i, t]`` is r_t and ``values[i, t]`` is
V_φ(s_t) of sample i (array index t is step t + 1), ``mask[i, t]`` is 1 on the tokens actually
written (up to and including ``<eos>``) and 0 after it. After ``<eos>`` the rewards and the critic's
outputs are junk (the critic still outputs a number there); V after the last valid token is 0 — so an
answer that forgets the end of the episode reads the junk and is caught.

Every generator ends with a long episode (``LONG_T`` steps): a closed form that divides by (γλ)^t
underflows there, and the ``_not_finite*`` symptoms name that mistake.
"""
from __future__ import annotations

import torch

from ..compare import as_tensor
from ..masks import _mask, _ragged_lengths


def _episodes(B: int, T: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rewards, values, mask): one row runs to T, one ends early (when T > 1); quarter-valued rewards and
    values on valid tokens, junk (values 1..3, rewards 2..5) after <eos>."""
    mask = _mask(_ragged_lengths(B, T, g), T)
    rewards = torch.round(torch.rand(B, T, generator=g) * 4) / 4
    values = torch.round((torch.rand(B, T, generator=g) * 2 - 0.5) * 4) / 4
    rewards = rewards * mask + (1 - mask) * torch.round(torch.rand(B, T, generator=g) * 3 + 2)
    values = values * mask + (1 - mask) * torch.round(torch.rand(B, T, generator=g) * 2 + 1)
    return rewards, values, mask


def _rand(lo: float, hi: float, g: torch.Generator) -> float:
    return round(lo + (hi - lo) * float(torch.rand(1, generator=g)), 2)


LONG_T = 50
"""The long episode of every generator (after the small, readable cases): T ≈ 50 exposes underflow in (γλ)^t."""


def _not_finite_where(name: str, *values: float):
    """A symptom test: the output has NaN/inf and the case has ``name`` (e.g. gamma) equal to one of ``values``."""
    def test(inputs, got, expected) -> bool:
        g = as_tensor(got)
        return g.shape == expected.shape and not torch.isfinite(g).all() and float(inputs[name]) in values
    return test


def _not_finite_at_zero_product(inputs, got, expected) -> bool:     # γλ = 0
    g = as_tensor(got)
    return (g.shape == expected.shape and not torch.isfinite(g).all()
            and float(inputs["gamma"]) * float(inputs["lam"]) == 0.0)


def _not_finite(inputs, got, expected) -> bool:
    g = as_tensor(got)
    return g.shape == expected.shape and not torch.isfinite(g).all()
