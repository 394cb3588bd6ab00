"""Algorithms, one file each, all with the same ``step`` order:
1. sample  2. rewards  3. advantages  4. loss  5. update  6. stats.

:data:`ALGOS` maps a name to ``(ConfigClass, step)`` for the CLI and the app.
"""
from __future__ import annotations

from . import a2c, article, grpo, ppo, reinforce
from .common import NonFiniteError, apply_update

ALGOS = {"reinforce": (reinforce.ReinforceConfig, reinforce.step),
         "a2c": (a2c.A2CConfig, a2c.step),
         "ppo": (ppo.PPOConfig, ppo.step),
         "rloo": (grpo.RLOOConfig, grpo.step),
         "grpo": (grpo.GRPOConfig, grpo.step),
         "dr_grpo": (grpo.DrGRPOConfig, grpo.step)}

__all__ = ["ALGOS", "NonFiniteError", "apply_update", "a2c", "article", "grpo", "ppo", "reinforce"]
