"""pglab — a policy-gradient lab for language models.

``import pglab as pg``, then e.g.::

    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab))
    history = pg.train.train(policy, task, steps=100, lr=3e-3)
"""
from __future__ import annotations

import importlib
import signal as _signal
import sys as _sys
from typing import Any


def _ctrl_c_while_starting(signum, frame):
    """Ctrl-C while ``python -m pglab`` (or the ``pglab`` command) is still importing torch: one line, exit 130."""
    print("pglab: interrupted while starting (Ctrl-C); nothing was written", file=_sys.stderr, flush=True)
    raise SystemExit(130)


_as_command = _sys.argv[:1] == ["-m"] or _sys.argv[0].endswith(("/pglab", "\\pglab.exe"))
_previous_handler = _signal.signal(_signal.SIGINT, _ctrl_c_while_starting) if _as_command else None
from . import advantages, algos, checks, exact, gradients, kl, mle, policies, rewards, rollout, statistics, tasks, train, vocab
from .algos.a2c import A2CConfig
from .algos.reinforce import ReinforceConfig
from .policies import make_policy, resolve_device
from .rollout import Rollout, sample, token_logprobs
from .tasks import make_task
from .train import History

if _as_command:
    _signal.signal(_signal.SIGINT, _previous_handler)

__version__ = "0.2.0"

# Imported on first use: the live lab needs ipywidgets/IPython (the ``[app]`` extra) and the
# plots need matplotlib, ``pglab.hf`` needs transformers (the ``[hf]`` extra): a plain ``import pglab`` pays for none.
_LAZY = ("app", "chapter_widgets", "hf", "lab", "meter", "notebook", "plots", "race")
# The live lab lives in ``pglab.lab``; its documented short names point there.
_IN_LAB = {"app": "lab.app", "race": "lab.race", "meter": "lab.meter", "chapter_widgets": "lab.widgets"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f".{_IN_LAB.get(name, name)}", __name__)
    raise AttributeError(f"module 'pglab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])

__all__ = ["advantages", "algos", "app", "checks", "lab", "meter", "race", "exact", "gradients", "kl", "mle", "notebook", "plots", "policies", "rewards", "rollout", "statistics", "tasks", "train",
           "vocab", "A2CConfig", "ReinforceConfig", "make_policy", "resolve_device", "Rollout", "sample",
           "token_logprobs", "make_task", "History"]
