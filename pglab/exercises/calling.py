"""Calling the student's function: the stub, the signature, in-place changes, and what it returned.

Everything between "the check has an input" and "the check has an output to compare" lives here:

- :func:`call` tells a stub (missing ``return``, ``...``, ``raise NotImplementedError``) from a real answer
  (:class:`NotImplementedYet`), so an unfinished exercise reads "not yet implemented", not "wrong".
- :func:`positional` passes the inputs *positionally*, in the order of the exercise's signature: the
  student may name the parameters as they like (``def gae(r, v, mask, gamma, lam)``); a function with the
  wrong number of parameters raises :class:`WrongSignature`, which the check turns into "keep the signature".
- :func:`clone_inputs` and :func:`changed_input` give the student fresh copies and compare them afterwards:
  a function that overwrote its argument (``rewards *= mask``) is told so, even when its values are right.
- :func:`unusable_output` words a returned value the check cannot use (a float after ``.item()``) as
  *returned* — the function ran to its ``return``, so "your code raised an error" would mislead.

An ``observe`` hook that finds an output it cannot compare (a loss without gradient) raises
:class:`WrongOutput` with the problem and the hint.
"""
from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch


class NotImplementedYet(Exception):
    """The student function is still a stub (missing, returns None or ..., raises NotImplementedError)."""


class WrongOutput(Exception):
    """Raised by an ``observe`` hook for an output that cannot be compared (e.g. a loss without grad).

    The check reports it as a failure with this message as the problem and ``hint`` as the hint.
    """

    def __init__(self, problem: str, key: str | None = None, hint: str = "") -> None:
        super().__init__(problem)
        self.key, self.hint = key, hint


def clone_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Fresh copies of the tensors (leaves keep ``requires_grad``): the check compares them with the originals
    afterwards, to tell a student whose function modified its inputs in place (:func:`changed_input`)."""
    out = {}
    for k, v in inputs.items():
        if isinstance(v, torch.Tensor):
            out[k] = v.detach().clone().requires_grad_(v.requires_grad)
        elif isinstance(v, list):
            out[k] = list(v)
        else:
            out[k] = v
    return out


IN_PLACE_HINT = ("compute new tensors (`x = {name} * mask`), don't overwrite the argument (`{name} *= mask`, "
                 "`{name}[...] = …`, `.add_()`, …): the caller's `{name}` — in training, the rollout's tensor, used "
                 "again later — would change under it. Call `.clone()` first if you want in-place updates.")


def changed_input(original: dict[str, Any], passed: dict[str, Any]) -> str | None:
    """The first input the student's function modified in place (``passed`` are the copies it got), or None."""
    for k, v in original.items():
        w = passed.get(k)
        if isinstance(v, torch.Tensor):
            if not isinstance(w, torch.Tensor) or w.shape != v.shape or not torch.equal(w.detach(), v.detach()):
                return k
        elif isinstance(v, list) and w != v:
            return k
    return None


def call(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """Call a function on keyword inputs; a stub (None / ... / NotImplementedError) raises NotImplementedYet."""
    try:
        out = fn(**inputs)
    except NotImplementedError as exc:
        raise NotImplementedYet("it raises NotImplementedError") from exc
    if out is None:
        raise NotImplementedYet("it returns None — still the stub, or a missing `return`?")
    if out is Ellipsis:
        raise NotImplementedYet("it returns ... (the stub)")
    return out


class WrongSignature(Exception):
    """The student's function cannot take the exercise's arguments (too few or too many parameters)."""


def positional(fn: Callable[..., Any], parameters: Sequence[str]) -> Callable[..., Any]:
    """``fn`` made callable with the exercise's keyword inputs, passing them *positionally* in ``parameters`` order.

    The student's own parameter names (``def leave_one_out(returns, mask, K)``) and positional-only
    parameters are fine. A function that takes only keywords (``**kw``, keyword-only parameters) gets
    them by name. One that fits neither raises :class:`WrongSignature`.

    >>> f = positional(lambda r, m, K, /: (r, m, K), ["returns", "mask", "group_size"])
    >>> f(group_size=2, returns=1, mask=0)
    (1, 0, 2)
    """
    order = tuple(parameters)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):      # a builtin without a signature: try positionally
        return lambda **kw: fn(*(kw[p] for p in order))
    try:
        sig.bind(*order)
        return lambda **kw: fn(*(kw[p] for p in order))
    except TypeError:
        pass
    try:
        sig.bind(**{p: None for p in order})
        return lambda **kw: fn(**{p: kw[p] for p in order})
    except TypeError:
        raise WrongSignature(str(sig)) from None


def default_observe(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    return call(fn, inputs)


def is_number(x: Any) -> bool:
    """A Python or NumPy scalar (``0.25``, ``np.float64(0.25)``, ``3``), not a tensor or an array."""
    return isinstance(x, numbers.Number) and not isinstance(x, torch.Tensor)


def numbers_for_tensors(expected: Any, got: Any) -> bool:
    """``got`` holds a plain number where ``expected`` holds a tensor (itself, or a field of a dict observation)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return any(isinstance(v, torch.Tensor) and is_number(got.get(k)) for k, v in expected.items())
    return isinstance(expected, torch.Tensor) and is_number(got)


RETURNED_NUMBER_HINT = ("keep the result a torch tensor, computed with torch operations: no .item(), float(), "
                        "int() or .tolist() on the way (a float has no shape and no gradient).")


def unusable_output(out: Any, error: str) -> tuple[str, str, str]:
    """(problem, hint key, hint) for a returned value the check cannot use — said as *returned*, never as an error
    raised by the student's code (the function ran to its ``return``).

    >>> unusable_output(0.5, "")[:2]
    ('your function returned a float where a tensor is expected', 'returned_float')
    """
    kind = type(out).__name__
    if is_number(out):
        kind = "float" if isinstance(out, numbers.Real) and not isinstance(out, numbers.Integral) else kind
        return (f"your function returned a {kind} where a tensor is expected", "returned_float",
                RETURNED_NUMBER_HINT)
    if isinstance(out, (tuple, list)) and any(is_number(x) for x in out):
        return (f"your function returned a {kind} holding a float where tensors are expected", "returned_float",
                RETURNED_NUMBER_HINT)
    return (f"your function returned a {kind} that the check could not use ({error})", "unusable_output",
            "return what the exercise asks for (its type and shape are stated above the function): "
            "compare your `return` line with it.")
