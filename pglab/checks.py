"""Input validation shared by configs, tasks, policies and the CLI.

Every public entry point checks its values *where they enter* and raises a
``ValueError`` that names the field, the offending value and what is allowed,
e.g. ``ValueError("gamma must be in [0, 1], got 1.5")``. Nothing is clamped
silently: a wrong value is a question for the user, not for the code.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real


def unit_interval(name: str, value: object) -> float:
    """Return ``value`` as a float if it lies in [0, 1], else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


def positive_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is finite and > 0, else raise ``ValueError``."""
    if (isinstance(value, bool) or not isinstance(value, Real)
            or not math.isfinite(float(value)) or float(value) <= 0.0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


LR_RANGE = "(0, 1]"
MAX_BATCH = 65_536
"""Largest batch any config accepts (the sampler draws B × T × V uniforms up front)."""


def learning_rate(name: str, value: object) -> float:
    """A learning rate in (0, 1] — the one range every entry point (train, CLI, live lab) accepts."""
    if (isinstance(value, bool) or not isinstance(value, Real)
            or not math.isfinite(float(value)) or not 0.0 < float(value) <= 1.0):
        raise ValueError(f"{name} must be in {LR_RANGE}, got {value!r}")
    return float(value)


def boolean(name: str, value: object) -> bool:
    """Return ``value`` if it is a real bool (the string "False" is not one)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def non_negative_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is finite and >= 0, else raise ``ValueError``."""
    if (isinstance(value, bool) or not isinstance(value, Real)
            or not math.isfinite(float(value)) or float(value) < 0.0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def positive_int(name: str, value: object, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` if it is an integer in [``minimum``, ``maximum``], else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}"
                         f"{'' if maximum is None else f' and <= {maximum:,}'}, got {value!r}")
    if maximum is not None and int(value) > maximum:
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum:,}], got {value!r}")
    return int(value)


def seed(name: str, value: object) -> int:
    """Return ``value`` if it is an integer seed in [0, 2**63 − 1] (what ``torch.Generator`` takes)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= int(value) < 2 ** 63:
        raise ValueError(f"{name} must be an integer in [0, 2**63 - 1], got {value!r}")
    return int(value)


def choice(name: str, value: object, allowed: Iterable[object]) -> object:
    """Return ``value`` if it is one of ``allowed``; the error lists the known names."""
    allowed = list(allowed)
    if value not in allowed:
        known = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"unknown {name} {value!r}; known: {known}")
    return value
