"""One autograd helper shared by the exact gradients and the estimators.

It lives below both :mod:`pglab.exact` and :mod:`pglab.gradients` so that neither
imports the other for it (``gradients`` is also reachable from ``algos``, and
``exact`` from ``kl``: taking it from ``gradients`` closed an import cycle).
"""
from __future__ import annotations

import torch


def flat_grad(value: torch.Tensor, params: dict[str, torch.nn.Parameter]) -> torch.Tensor:
    """∇ ``value`` with respect to ``params``, flattened into one vector (zeros where unused)."""
    ps = list(params.values())
    grads = (torch.autograd.grad(value, ps, allow_unused=True) if value.requires_grad else [None] * len(ps))
    return torch.cat([torch.zeros_like(p).flatten() if g is None else g.flatten() for p, g in zip(ps, grads)])
