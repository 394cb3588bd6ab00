"""pglab — a policy-gradient lab for language models.

``import pglab as pg``, then e.g.::

    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab))
    history = pg.train.train(policy, task, steps=100, lr=3e-3)
"""
from __future__ import annotations

import importlib
from typing import Any

from . import advantages, algos, checks, exact, gradients, kl, mle, policies, rewards, rollout, statistics, tasks, train, vocab
from .algos.a2c import A2CConfig
from .algos.reinforce import ReinforceConfig
from .policies import make_policy, resolve_device
from .rollout import Rollout, sample, token_logprobs
from .tasks import make_task
from .train import History

__version__ = "0.2.0"

# Imported on first use: the live lab needs ipywidgets/IPython (the ``[app]`` extra) and the
# plots need matplotlib, ``pglab.hf`` needs transformers (the ``[hf]`` extra): a plain ``import pglab`` pays for none.
_LAZY = ("app", "chapter_widgets", "hf", "meter", "notebook", "plots", "race")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'pglab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])

__all__ = ["advantages", "algos", "app", "checks", "race", "exact", "gradients", "kl", "mle", "notebook", "plots", "policies", "rewards", "rollout", "statistics", "tasks", "train",
           "vocab", "A2CConfig", "ReinforceConfig", "make_policy", "resolve_device", "Rollout", "sample",
           "token_logprobs", "make_task", "History"]
