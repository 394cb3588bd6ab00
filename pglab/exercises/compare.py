"""Comparing a student's output with the reference's, and writing both so a student can read them.

Outputs are compared as float64 tensors (numpy arrays, lists and numbers are accepted); a mismatch is put into
words (shape first, then the first differing entries), and tensors are printed in one fixed-point format so the
expected and the returned values line up.
"""
from __future__ import annotations

import re
from typing import Any

import torch


def as_tensor(x: Any) -> torch.Tensor:
    """A student's output as a float64 tensor (tensors, numpy arrays, lists and numbers are accepted)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64).cpu()
    return torch.as_tensor(x, dtype=torch.float64)


def compare_tensors(expected: Any, got: Any, *, rtol: float = 1e-4, atol: float = 1e-5) -> str | None:
    """``None`` when ``got`` matches ``expected`` (same shape, allclose), else what differs, in words."""
    try:
        g = as_tensor(got)
    except (TypeError, ValueError, RuntimeError):
        return f"expected a tensor of shape {tuple(as_tensor(expected).shape)}, got a {type(got).__name__}"
    e = as_tensor(expected)
    if g.shape != e.shape:
        return f"shape: expected {tuple(e.shape)}, got {tuple(g.shape)}"
    if not torch.isfinite(g).all():
        return "got contains NaN or inf"
    bad = ~torch.isclose(g, e, rtol=rtol, atol=atol)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in bad.nonzero()[0])
    where = f" at index {list(idx)}" if idx else ""
    return (f"{int(bad.sum())} of {e.numel()} values differ; first{where}: "
            f"expected {e[idx].item() + 0.0:.4g}, got {g[idx].item() + 0.0:.4g}")


def shape_hint(expected: Any, got: Any, shape: str | None = None, means: str = "") -> str | None:
    """The hint for an output of the wrong shape, or ``None`` when the shapes agree (or are not tensors).

    ``shape`` names the reference's dimensions, e.g. ``"(B, T)"``; the student's shape is written with the
    same names where its sizes identify them.

    >>> shape_hint(torch.zeros(2, 3), torch.zeros(3, 2), "(B, T)")
    'return a (B, T) tensor (got (T, B)): transposed, a dimension summed away, or one kept with keepdim?'
    >>> shape_hint(torch.tensor(1.0), torch.zeros(1))
    'return a 0-dimensional tensor, shape () (got (1,)): e.g. .sum() over everything, not .sum(0) or [x]'
    >>> shape_hint(torch.zeros(2, 3), torch.zeros(2))
    'return a tensor of shape (2, 3) on this input, like the reference (got (2,)): transposed, a dimension summed away, or one kept with keepdim?'
    """
    if isinstance(expected, dict) and isinstance(got, dict) and expected:    # a loss and its gradients: the first field
        key = next(iter(expected))
        expected, got = expected[key], got.get(key)
    try:
        e, g = tuple(as_tensor(expected).shape), tuple(as_tensor(got).shape)
    except (TypeError, ValueError, RuntimeError):
        return None
    if e == g:
        return None
    tail = ": transposed, a dimension summed away, or one kept with keepdim?"
    if e == ():
        return f"return a 0-dimensional tensor, shape () (got {g}): e.g. .sum() over everything, not .sum(0) or [x]"
    names = [n.strip() for n in shape.strip("() ").split(",") if n.strip()] if shape else []
    if not shape or len(names) != len(e):
        return f"return a tensor of shape {e} on this input, like the reference (got {g}){tail}"
    by_size: dict[int, str | None] = {}
    for size, name in zip(e, names):
        by_size[size] = None if size in by_size else name          # two dimensions of one size: ambiguous
    named = ["1" if size == 1 else by_size.get(size) for size in g]      # a size-1 dimension: 1, not a name
    got = (f"({', '.join(named)}{',' if len(named) == 1 else ''})" if named and all(named)
           else f"{g}, the expected being {e} here")
    return f"return a {shape} tensor{', ' + means if means else ''} (got {got}){tail}"


def compare_fields(expected: dict[str, Any], got: dict[str, Any], *, rtol: float = 1e-4,
                   atol: float = 1e-5) -> str | None:
    """Compare dict observations field by field (e.g. a loss and its gradients); name the first that differs."""
    for key, e in expected.items():
        problem = compare_tensors(e, got[key], rtol=rtol, atol=atol)
        if problem is not None:
            return f"{key.replace('_', ' ')}: {problem}"
    return None


def _fmt(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            t = x.detach().cpu()
            if t.is_floating_point():
                t = t.to(torch.float64)
                # |x| < 1e-6 is 0 to every check (atol 1e-5): print it as 0, not -0.000 or -1.0e-09 (sci mode)
                t = torch.where(t.abs() < 1e-6, torch.zeros_like(t), t)
            old, old_sci = torch._tensor_str.PRINT_OPTS.precision, torch._tensor_str.PRINT_OPTS.sci_mode
            torch.set_printoptions(precision=3, sci_mode=False)     # expected and got in one format, never 3.5e-02
            try:
                s = re.sub(r",\s*dtype=torch\.float64", "", repr(t))
            finally:
                torch.set_printoptions(precision=old, sci_mode=old_sci)
            return re.sub(r"-(0\.0+(?:e[+-]00)?)(?![0-9])", r" \1", s)    # -0.000 (a tiny negative) prints 0.000
    if isinstance(x, torch.Generator):
        return f"torch.Generator().manual_seed({x.initial_seed()})"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in x.items()) + "}"
    if isinstance(x, float):
        return f"{x + 0.0:.4g}"                     # + 0.0: -0.0 prints 0
    if isinstance(x, str):
        return x
    if isinstance(x, (list, tuple)) and len(x) > 8:
        return repr(list(x[:8]))[:-1] + ", …]"
    return repr(x)


def _indent(s: str, pad: str = "      ") -> str:
    return s.replace("\n", "\n" + pad)


def _block(label: str, x: Any) -> list[str]:
    """``expected:``/``got:`` lines; a dict observation (a loss and its gradients) gets one line per field."""
    head = f"  {label:<10}"
    if not isinstance(x, dict):
        return [head + _indent(_fmt(x), " " * len(head))]
    lines = []
    for i, (k, v) in enumerate(x.items()):
        prefix = (head if i == 0 else " " * len(head)) + f"{k} = "
        lines.append(prefix + _indent(_fmt(v), " " * len(prefix)))
    return lines
