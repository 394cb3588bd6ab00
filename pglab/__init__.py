"""pglab — a policy-gradient lab for language models.

``import pglab as pg``, then e.g.::

    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab))
    history = pg.train.train(policy, task, steps=100, lr=3e-3)
"""
from __future__ import annotations

from . import advantages, algos, app, checks, exact, gradients, mle, notebook, plots, policies, race, rewards, rollout, tasks, train, vocab
from .algos.a2c import A2CConfig
from .algos.reinforce import ReinforceConfig
from .policies import make_policy, resolve_device
from .rollout import Rollout, sample, token_logprobs
from .tasks import make_task
from .train import History

__version__ = "0.1.0"

__all__ = ["advantages", "algos", "app", "checks", "race", "exact", "gradients", "mle", "notebook", "plots", "policies", "rewards", "rollout", "tasks", "train",
           "vocab", "A2CConfig", "ReinforceConfig", "make_policy", "resolve_device", "Rollout", "sample",
           "token_logprobs", "make_task", "History"]
