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


EXTRA_OF_COMMAND = {"grade": "classroom", "sweep": "sweep", "app": "app"}
"""Which optional extra (``pip install "pglab[extra]"``) each part of pglab needs beyond the core."""


def missing_extra(what: str, extra: str, err: ModuleNotFoundError) -> str:
    """One line for a missing optional dependency: what needs it, which extra to install, the module missing."""
    return (f"{what} needs the optional [{extra}] dependencies: pip install \"pglab[{extra}]\" "
            f"(missing module: {err.name or err})")


ENTROPY_COEF_MAX = 1.0
"""Largest entropy bonus c_H any config accepts: rewards lie in [0, 1], so above 1 the bonus c_H·H outweighs every
reward and the policy only learns to stay uniform — a larger value is a typo (1e1 for 1e-1), not a setting."""


def entropy_coef(name: str, value: object) -> float:
    """An entropy-bonus weight in [0, :data:`ENTROPY_COEF_MAX`]."""
    value = non_negative_float(name, value)
    if value > ENTROPY_COEF_MAX:
        raise ValueError(f"{name} must be in [0, {ENTROPY_COEF_MAX:g}], got {value!r} (above {ENTROPY_COEF_MAX:g} "
                         "the entropy bonus outweighs every reward in [0, 1])")
    return value


class Validated:
    """Base of the config dataclasses: a field assigned *after* construction is checked like one passed to it.

    ``cfg.batch_size = -5`` re-runs the class's ``__post_init__`` checks on a copy holding the new value and
    raises the same ``ValueError`` the constructor would (the config is left unchanged); a name that is not a
    field (``cfg.batchsize = 32``, a typo that would otherwise be ignored silently) is an ``AttributeError``.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        post = cls.__dict__.get("__post_init__")
        if post is not None and not getattr(post, "_marks_ready", False):
            def __post_init__(self, *args, _post=post) -> None:
                _post(self, *args)
                object.__setattr__(self, "_validated", True)       # from now on, assignments are checked
            __post_init__._marks_ready = True
            __post_init__.__doc__ = post.__doc__
            cls.__post_init__ = __post_init__

    def __setattr__(self, name: str, value: object) -> None:
        if not self.__dict__.get("_validated", False):
            object.__setattr__(self, name, value)                   # the constructor filling the fields
            return
        from dataclasses import fields
        known = [f.name for f in fields(self)]
        if name not in known:
            raise AttributeError(f"{type(self).__name__} has no setting {name!r}; known: {', '.join(known)}")
        trial = object.__new__(type(self))
        trial.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_validated"})
        object.__setattr__(trial, name, value)
        trial.__post_init__()                                       # raises ValueError naming the field
        self.__dict__.update(trial.__dict__)
